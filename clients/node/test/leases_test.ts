// withLock, leases and elections against a real batond: the token and the release, Denied
// and waiting, a lease lost while its callback runs (Redis stopped so batond cannot renew:
// the signal must abort while the callback still runs), and leadership with an observer,
// resigned and lost the same way.
import { Baton, Denied, LeaderEvent, Lost } from '../src';
import { Checks, errorOf, Fleet, sleep, until, within } from './fleet';

export async function leaseTests(baton: Baton, fleet: Fleet, t: Checks): Promise<void> {
  // The token, held while the body runs, released after.
  let seen: unknown = null;
  const token = await baton.withLock('report', async (token) => {
    seen = await baton.info('report');
    return token;
  }, { ttlMs: 2000 });
  t.check('withLock: the lease is held under the token while the body runs',
    (seen as { token?: number } | null)?.token === token && token > 0, seen);
  t.check('withLock: released when the body ends', (await baton.info('report')) === null);

  // Another holder: Denied at once; with waitMs, granted after the release, a higher token.
  let release!: () => void;
  const released = new Promise<void>((resolve) => { release = resolve; });
  let first = 0;
  const holding = baton.withLock('job', async (token) => { first = token; await released; }, { ttlMs: 2000 });
  await until(async () => (await baton.info('job')) !== null, 10_000);
  const denied = await errorOf(baton.withLock('job', async () => undefined, { ttlMs: 2000 }));
  t.check('withLock: Denied while another holds it', denied instanceof Denied && denied.token === first,
    String(denied));
  const waiting = baton.withLock('job', async (token) => token, { ttlMs: 2000, waitMs: 20_000 });
  await sleep(100);
  release();
  await holding;
  const second = await waiting;
  t.check('withLock: a waiter gets it after the release, under a higher token', second > first,
    `${first} ${second}`);

  // KEEP renews while the body runs past the TTL: not aborted (the next check's control).
  const kept = await baton.withLock('long', async (_token, signal) => {
    await sleep(2500);
    return signal.aborted;
  }, { ttlMs: 1000 });
  t.check('withLock: a body longer than the TTL keeps the lease (KEEP)', kept === false);

  // Lost while the body runs: Redis stopped, batond cannot renew, and says `lost` while the
  // lease is still safe. The body waits for the signal; it must see it while running.
  let abortedWhileRunning = false;
  let reason: unknown = null;
  const outcome = await errorOf(baton.withLock('fragile', async (_token, signal) => {
    fleet.pauseRedis(true);
    try {
      const aborted = new Promise<boolean>((resolve) => signal.addEventListener('abort', () => resolve(true)));
      abortedWhileRunning = await within(aborted, 15_000, false);
      reason = signal.reason;
    } finally {
      fleet.pauseRedis(false);
    }
  }, { ttlMs: 1500 }));
  t.check('withLock: the signal aborts while the body runs when the lease is lost',
    abortedWhileRunning && reason instanceof Lost && reason.message.includes('the lease was lost'),
    String(reason));
  t.check('withLock: a body that returns after the loss gets Lost', outcome instanceof Lost, String(outcome));
  t.check('batond reaches Redis again', await fleet.linkUp(baton.socketPath));
}

export async function electionTests(baton: Baton, fleet: Fleet, t: Checks): Promise<void> {
  const events: LeaderEvent[] = [];
  const observer = await baton.observeLeader('workers', (event) => events.push(event));
  t.check('observeLeader: first hears the group vacant',
    await until(() => events[0]?.event === 'vacant', 10_000), events);
  const leading = await baton.campaign('workers', 'worker one');
  t.check('campaign: leads under a term', leading.term > 0 && !leading.signal.aborted);
  t.check('observeLeader: hears the leader with its candidate name (spaces kept)',
    await until(() => events.some((e) => e.event === 'leader' && e.term === leading.term &&
                                         e.candidate === 'worker one'), 10_000), events);
  const rival = await errorOf(baton.campaign('workers', 'worker two', { timeoutMs: 200 }));
  t.check('campaign: a rival times out with Denied', rival instanceof Denied, String(rival));
  const next = baton.campaign('workers', 'worker three');
  await leading.resign();
  const successor = await within(next, 10_000, null);
  t.check('campaign: after a resignation the waiting candidate leads under a higher term',
    successor !== null && successor.term > leading.term, successor?.term);
  t.check('the resigned leadership is not reported lost', !leading.signal.aborted);
  await successor?.resign();

  // Leadership lost: Redis stopped, batond cannot renew it, the signal aborts.
  const fragile = await baton.campaign('workers', 'worker four', { ttlMs: 1500 });
  fleet.pauseRedis(true);
  let lost = false;
  try {
    const aborted = new Promise<boolean>((resolve) => fragile.signal.addEventListener('abort', () => resolve(true)));
    lost = await within(aborted, 15_000, false);
  } finally {
    fleet.pauseRedis(false);
  }
  t.check('campaign: the leadership\'s signal aborts when batond cannot renew it', lost &&
    fragile.signal.reason instanceof Lost, String(fragile.signal.reason));
  t.check('observeLeader: hears it lost', await until(() => events.some((e) => e.event === 'lost' &&
    e.term === fragile.term), 10_000), events.slice(-3));
  await fragile.resign().catch(() => undefined);
  t.check('batond reaches Redis again', await fleet.linkUp(baton.socketPath));
  observer.close();
}
