// once(), secrets and their watcher, state, cache, events with an async iterator, breakers,
// error classes and the socket path, each against a real batond.
import { Baton, BreakerOpen, Conflict, InProgress, OtherError, Secret, socketPathFrom } from '../src';
import { Checks, errorOf, sleep, until, within } from './fleet';

export async function basicsTests(baton: Baton, t: Checks): Promise<void> {
  const saved = process.env.BATON_SOCKET;
  process.env.BATON_SOCKET = '/tmp/from-env.sock';
  t.check('socket: the option, else $BATON_SOCKET, else /run/baton/baton.sock',
    socketPathFrom('/x.sock') === '/x.sock' && socketPathFrom() === '/tmp/from-env.sock' &&
    (delete process.env.BATON_SOCKET, socketPathFrom()) === '/run/baton/baton.sock');
  if (saved !== undefined) process.env.BATON_SOCKET = saved;
  const error = await errorOf(baton.check('no-such-policy', 'k'));
  t.check('errors: ERR arrives as OtherError with its code', error instanceof OtherError &&
    error.code === 'ERR' && error.message.includes('unknown rate policy'), String(error));
  const decision = await baton.check('api', 'user:1', { cost: 2 });
  t.check('check: a typed decision', decision.allowed && decision.remaining === 1 &&
    decision.source === 'redis' && !decision.degraded, decision);
}

export async function onceTests(baton: Baton, t: Checks): Promise<void> {
  let runs = 0;
  let open!: () => void;
  const gate = new Promise<void>((resolve) => { open = resolve; });
  const first = baton.once('order-7', async () => { runs++; await gate; return { charged: 7 }; });
  await until(() => runs === 1, 10_000);
  const during = await errorOf(baton.once('order-7', async () => { runs++; return { charged: 0 }; }));
  t.check('once: a repeat during the run gets InProgress', during instanceof InProgress, String(during));
  const waiter = baton.once('order-7', async () => { runs++; return { charged: 0 }; }, { waitMs: 10_000 });
  open();
  const [result, waited] = await Promise.all([first, waiter]);
  const later = await baton.once('order-7', async () => { runs++; return { charged: 0 }; });
  t.check('once: runs once; the waiter and a later repeat get the stored result',
    runs === 1 && result.charged === 7 && waited.charged === 7 && later.charged === 7, { runs, result, waited, later });
  const failure = await errorOf(baton.once('order-8', async () => { throw new Error('card declined'); }));
  const retried = await baton.once('order-8', async () => 'charged');
  t.check('once: a failed run frees the key at once, a retry runs the work',
    String(failure).includes('card declined') && retried === 'charged');
}

export async function secretTests(baton: Baton, t: Checks): Promise<void> {
  await baton.command('SECRET', 'PUT', 'api-key', 'first-value');
  const got = await baton.secrets.get('api-key');
  t.check('secrets.get: value and version', got?.value === 'first-value' && got.version > 0, got);
  t.check('secrets.get: null for no such secret', (await baton.secrets.get('nothing-here')) === null);
  const heard: (Secret | null)[] = [];
  const watcher = await baton.secrets.watch('api-key', (s) => heard.push(s), { intervalMs: 100 });
  t.check('secrets.watch: current at once', watcher.current?.value === 'first-value' && heard.length === 1);
  await baton.command('SECRET', 'PUT', 'api-key', 'second-value');
  t.check('secrets.watch: the rotation is called back and becomes current',
    await until(() => watcher.current?.value === 'second-value', 10_000) &&
    heard[heard.length - 1]?.version === watcher.current?.version && heard.length === 2, heard);
  watcher.close();
  const old = await baton.secrets.verify('api-key', 'first-value');
  const wrong = await baton.secrets.verify('api-key', 'guess');
  t.check('secrets.verify: the previous value matches as previous, a wrong one does not',
    old.match && old.state === 'previous' && !wrong.match && wrong.version === null, { old, wrong });
}

export async function stateCacheEventTests(baton: Baton, t: Checks): Promise<void> {
  const v1 = await baton.state.set('orders', 'o1', 'new');
  const entry = await baton.state.get('orders', 'o1');
  t.check('state: set and get with its version', entry?.value === 'new' && entry.version === v1 &&
    entry.ttlMs === null, entry);
  const v2 = await baton.state.set('orders', 'o1', 'paid', { ifVersion: v1 });
  const conflict = await errorOf(baton.state.set('orders', 'o1', 'lost', { ifVersion: v1 }));
  t.check('state: ifVersion writes once, then Conflict names the winner',
    v2 > v1 && conflict instanceof Conflict && conflict.version === v2, String(conflict));
  t.check('state: delete', await baton.state.delete('orders', 'o1') && (await baton.state.get('orders', 'o1')) === null);
  await baton.cache.set('users', 'u1', '{"name":"ada"}');
  const cached = await baton.cache.get('users', 'u1');
  t.check('cache: set and get', cached?.value === '{"name":"ada"}' && cached.ttlMs > 0, cached);

  const id1 = await baton.events.publish('orders', 'created 1', { dedup: 'order-1' });
  const again = await baton.events.publish('orders', 'created 1', { dedup: 'order-1' });
  t.check('events: a publish with the same DEDUP key appends nothing', id1 === again);
  const stop = new AbortController();
  const seen: string[] = [];
  const reading = (async () => {
    for await (const event of baton.events.follow('orders', { from: '0', blockMs: 1000, signal: stop.signal })) {
      seen.push(event.payload);
      if (seen.length === 3) stop.abort();
    }
  })();
  await until(() => seen.length === 1, 10_000);
  await baton.events.publish('orders', 'created 2');
  await baton.events.publish('orders', 'created 3');
  const ended = await within(reading.then(() => true), 10_000, false);
  t.check('events.follow: the kept event, then new ones in order', ended &&
    seen.join('|') === 'created 1|created 2|created 3', seen);
  const read = await baton.events.read('orders', id1);
  t.check('events.read: from an id', read.map((e) => e.payload).join('|') === 'created 2|created 3');
}

export async function breakerTests(baton: Baton, t: Checks): Promise<void> {
  const flaky = baton.breaker('flaky');
  let calls = 0;
  for (let i = 0; i < 3; i++) {
    await errorOf(flaky.run(async () => { calls++; throw new Error('down'); }));
  }
  const refused = await errorOf(flaky.run(async () => { calls++; }));
  t.check('breaker.run: failures trip it; then it refuses without calling',
    refused instanceof BreakerOpen && refused.check.state === 'open' && calls === 3, String(refused));
  const sluggish = baton.breaker('sluggish');
  for (let i = 0; i < 3; i++) await sluggish.run(async () => sleep(80));
  const slow = await errorOf(sluggish.run(async () => 'never'));
  t.check('breaker.run: slow calls (latency reported) trip a slow-rate policy', slow instanceof BreakerOpen,
    String(slow));
  const healthy = baton.breaker('flaky-2');
  t.check('breaker.run: answers the call\'s result when allowed',
    (await healthy.run(async () => 42).catch((e: unknown) => String(e))) === 42);

  // A report that fails never replaces the call's own result or error; onReportError hears it.
  // An error reply: batond has no way to refuse a REPORT after admitting the CHECK but a
  // latency over 24 h, so the report is made to fail as a removed breaker would (ERR).
  const told: unknown[] = [];
  const refusing = baton.breaker('flaky-3', { onReportError: (error) => told.push(error) });
  refusing.report = async () => { throw new OtherError('ERR', 'unknown breaker flaky-3'); };
  const value = await refusing.run(async () => 'the result').catch((e: unknown) => e);
  const own = await errorOf(refusing.run(async () => { throw new Error('the call\'s own error'); }));
  t.check('breaker.run: a report answered with an error reply (BatonError) keeps the call\'s result and error',
    value === 'the result' && own instanceof Error && own.message === 'the call\'s own error' &&
    told.length === 2 && told.every((e) => e instanceof OtherError), { value: String(value), own: String(own), told: told.map(String) });
  // batond unreachable for the report: the connection goes away during the call.
  const other = new Baton({ socket: baton.socketPath });
  const heard: unknown[] = [];
  const cut = other.breaker('flaky-4');
  const result = await cut.run(async () => { other.close(); return 7; }, { onReportError: (e) => heard.push(e) })
    .catch((e: unknown) => e);
  t.check('breaker.run: batond unreachable for the report: the call\'s result, onReportError told',
    result === 7 && heard.length === 1, { result: String(result), heard: heard.map(String) });
}
