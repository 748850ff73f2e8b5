// withLock, leases and elections against a real batond: the token and the release, Denied
// and waiting, a lease lost while its callback runs (Redis stopped so batond cannot renew:
// the signal must abort while the callback still runs, before the lease's TTL is over), a
// lease whose batond hangs (SIGSTOP: no event can come, the follower's PINGs go unanswered),
// and leadership with an observer, resigned and lost the same ways.
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
  // lease is still safe. The body waits for the signal; it must see it while running, and
  // before the TTL counted from the pause is over (the lease was renewed before the pause, so
  // it runs out elsewhere no earlier than that). A TTL of 5 s leaves slack for a loaded host (batond says `lost` a tenth of it, 0.5 s, before the end).
  const ttlMs = 5000;
  let noticedMs = Infinity;
  let reason: unknown = null;
  const outcome = await errorOf(baton.withLock('fragile', async (_token, signal) => {
    fleet.pauseRedis(true);
    const paused = performance.now();
    try {
      if (await within(aborted(signal), ttlMs + 5000, false)) noticedMs = performance.now() - paused;
      reason = signal.reason;
    } finally {
      fleet.pauseRedis(false);
    }
  }, { ttlMs }));
  t.check(`withLock: the signal aborts while the body runs when the lease is lost, within its TTL (${ttlMs} ms)`,
    noticedMs < ttlMs && reason instanceof Lost && reason.message.includes('the lease was lost'),
    `after ${noticedMs.toFixed(0)} ms: ${String(reason)}`);
  t.check('withLock: a body that returns after the loss gets Lost', outcome instanceof Lost, String(outcome));
  t.check('batond reaches Redis again', await fleet.linkUp(baton.socketPath));

  // batond itself hangs (SIGSTOP) while the body runs: no event can arrive, the follower's
  // PINGs go unanswered, and after ttl/2 of silence the signal aborts, within the TTL.
  let hungNoticedMs = Infinity;
  let hungReason: unknown = null;
  const hungOutcome = await errorOf(baton.withLock('hung', async (_token, signal) => {
    fleet.signalBatond('node-a', 'SIGSTOP');
    const stopped = performance.now();
    try {
      if (await within(aborted(signal), ttlMs + 5000, false)) hungNoticedMs = performance.now() - stopped;
      hungReason = signal.reason;
    } finally {
      fleet.signalBatond('node-a', 'SIGCONT');
    }
  }, { ttlMs }));
  t.check(`withLock: batond hung (SIGSTOP): the signal aborts within the TTL (${ttlMs} ms)`,
    hungNoticedMs < ttlMs && hungReason instanceof Lost && hungReason.message.includes('answered nothing'),
    `after ${hungNoticedMs.toFixed(0)} ms: ${String(hungReason)}`);
  t.check('withLock: ... and the body that returns after it gets Lost', hungOutcome instanceof Lost, String(hungOutcome));
  t.check('batond answers again after SIGCONT, and the lease is given back (its connections closed)',
    await fleet.linkUp(baton.socketPath) && await until(async () => (await baton.info('hung')) === null, 10_000));
}

function aborted(signal: AbortSignal): Promise<boolean> {
  if (signal.aborted) return Promise.resolve(true);
  return new Promise<boolean>((resolve) => signal.addEventListener('abort', () => resolve(true)));
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

  // Leadership lost: Redis stopped, batond cannot renew it, the signal aborts within the TTL.
  const ttlMs = 5000;
  const fragile = await baton.campaign('workers', 'worker four', { ttlMs });
  fleet.pauseRedis(true);
  const paused = performance.now();
  let noticedMs = Infinity;
  try {
    if (await within(aborted(fragile.signal), ttlMs + 5000, false)) noticedMs = performance.now() - paused;
  } finally {
    fleet.pauseRedis(false);
  }
  t.check(`campaign: the leadership's signal aborts when batond cannot renew it, within the TTL (${ttlMs} ms)`,
    noticedMs < ttlMs && fragile.signal.reason instanceof Lost,
    `after ${noticedMs.toFixed(0)} ms: ${String(fragile.signal.reason)}`);
  t.check('observeLeader: hears it lost', await until(() => events.some((e) => e.event === 'lost' &&
    e.term === fragile.term), 10_000), events.slice(-3));
  await fragile.resign().catch(() => undefined);
  t.check('batond reaches Redis again', await fleet.linkUp(baton.socketPath));

  // batond hangs (SIGSTOP) under a leadership: the signal aborts within the TTL.
  const hung = await baton.campaign('workers', 'worker five', { ttlMs });
  fleet.signalBatond('node-a', 'SIGSTOP');
  const stopped = performance.now();
  let hungNoticedMs = Infinity;
  try {
    if (await within(aborted(hung.signal), ttlMs + 5000, false)) hungNoticedMs = performance.now() - stopped;
  } finally {
    fleet.signalBatond('node-a', 'SIGCONT');
  }
  t.check(`campaign: batond hung (SIGSTOP): the leadership's signal aborts within the TTL (${ttlMs} ms)`,
    hungNoticedMs < ttlMs && hung.signal.reason instanceof Lost &&
    hung.signal.reason.message.includes('answered nothing'),
    `after ${hungNoticedMs.toFixed(0)} ms: ${String(hung.signal.reason)}`);
  await hung.resign().catch(() => undefined);
  t.check('batond answers again after SIGCONT', await fleet.linkUp(baton.socketPath));
  observer.close();
}
