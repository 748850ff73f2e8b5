// The HTTP helpers against a real Express server and a real HTTP client (Node's fetch):
// rate-limit middleware (429, Retry-After, the draft -06 RateLimit fields, batond unreachable:
// through by default, 503 when not failing open), the web-Request wrapper, and the
// Idempotency-Key middleware (replay, 409 during a run, 422 for another body, 5xx not kept, a
// body over dedup.max_result_bytes, long and bad keys, methods it leaves alone).
import express from 'express';
import type { AddressInfo } from 'net';
import * as os from 'os';
import * as path from 'path';
import { Baton } from '../src';
import { Checks, sleep, until } from './fleet';

/** batond's dedup.max_result_bytes in the tests' config (main.ts). */
export const MAX_RESULT_BYTES = 4096;

export async function httpTests(baton: Baton, t: Checks): Promise<void> {
  const app = express();
  app.use(express.json());
  app.get('/limited', baton.rateLimit({ policy: 'web', key: (req) => String(req.headers['x-user']),
                                        limit: 2, windowSeconds: 3600 }),
          (_req, res) => { res.json({ ok: true }); });

  // Nobody listens on this socket: batond unreachable.
  const absent = new Baton({ socket: path.join(os.tmpdir(), `baton-nobody-${process.pid}.sock`) });
  let unreachable = 0;
  app.get('/open', absent.rateLimit({ policy: 'web', key: () => 'x', limit: 2, onUnreachable: () => unreachable++ }),
          (_req, res) => { res.json({ ok: true }); });
  app.get('/closed', absent.rateLimit({ policy: 'web', key: () => 'x', failOpen: false,
                                        onUnreachable: () => unreachable++ }),
          (_req, res) => { res.json({ ok: true }); });

  let runs = 0;
  let gate: Promise<void> = Promise.resolve();
  app.post('/orders', baton.idempotency({ ttlMs: 30_000 }), async (req, res) => {
    runs++;
    await gate;
    if (req.body?.fail) {
      res.status(503).json({ error: 'try later' });
      return;
    }
    res.status(201).json({ order: runs, item: req.body?.item });
  });

  let bigRuns = 0;
  app.post('/big', baton.idempotency(), (_req, res) => {
    bigRuns++;
    res.status(201).location('/big/1').type('text/plain').send('x'.repeat(2 * MAX_RESULT_BYTES));
  });
  let scopedRuns = 0;
  app.post('/scoped', baton.idempotency({ scope: (req) => String(req.headers['x-tenant']) }), (_req, res) => {
    scopedRuns++;
    res.status(201).json({ run: scopedRuns });
  });
  let getRuns = 0;
  app.get('/scoped', baton.idempotency(), (_req, res) => { getRuns++; res.json({ run: getRuns }); });

  const server = app.listen(0, '127.0.0.1');
  await new Promise<void>((resolve) => server.once('listening', () => resolve()));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  try {
    await rateLimited(base, t);
    await until(() => absent.redis.status === 'reconnecting', 10_000);
    const open = await fetch(`${base}/open`);
    const closed = await fetch(`${base}/closed`);
    t.check('rateLimit: batond unreachable: through without the fields by default (failOpen)',
      open.status === 200 && !open.headers.has('ratelimit-remaining') && !open.headers.has('ratelimit-limit'),
      `${open.status} ${JSON.stringify(Object.fromEntries(open.headers))}`);
    t.check('rateLimit: batond unreachable with failOpen: false: 503 with Retry-After',
      closed.status === 503 && closed.headers.get('retry-after') === '1' && unreachable === 2,
      `${closed.status} unreachable=${unreachable}`);
    await idempotent(base, t, () => runs, (g) => { gate = g; });
    await idempotentEdges(base, t, () => bigRuns, () => scopedRuns, () => getRuns);
    await webRequests(baton, absent, t);
  } finally {
    absent.close();
    server.close();
    server.closeAllConnections();
  }
}

async function rateLimited(base: string, t: Checks): Promise<void> {
  const as = (user: string) => fetch(`${base}/limited`, { headers: { 'x-user': user } });
  const answers = [await as('u1'), await as('u1'), await as('u1')];
  t.check('rateLimit: the limit passes, then 429', answers.map((r) => r.status).join() === '200,200,429',
    answers.map((r) => r.status));
  const [ok, , refused] = answers;
  t.check('rateLimit: the four fields of draft -06 on an admitted answer, not draft -10\'s RateLimit',
    ok.headers.get('ratelimit-remaining') === '1' && ok.headers.get('ratelimit-limit') === '2' &&
    /^\d+$/.test(ok.headers.get('ratelimit-reset') ?? '') && Number(ok.headers.get('ratelimit-reset')) > 0 &&
    ok.headers.get('ratelimit-policy') === '2;w=3600' && !ok.headers.has('ratelimit'),
    Object.fromEntries(ok.headers));
  t.check('rateLimit: 429 with Retry-After and remaining 0',
    Number(refused.headers.get('retry-after')) > 0 && refused.headers.get('ratelimit-remaining') === '0',
    Object.fromEntries(refused.headers));
  t.check('rateLimit: another key is counted apart', (await as('u2')).status === 200);
}

async function idempotent(base: string, t: Checks, runs: () => number,
                          setGate: (gate: Promise<void>) => void): Promise<void> {
  const post = (key: string | null, body: object) => fetch(`${base}/orders`, {
    method: 'POST', body: JSON.stringify(body),
    headers: { 'content-type': 'application/json', ...(key ? { 'idempotency-key': key } : {}) },
  });
  const first = await post('k1', { item: 'book' });
  const firstBody = await first.text();
  const repeat = await post('k1', { item: 'book' });
  const repeatBody = await repeat.text();
  t.check('idempotency: the first request runs the route', first.status === 201 && runs() === 1, firstBody);
  t.check('idempotency: a repeat gets the stored status and body, the route does not run',
    repeat.status === 201 && repeatBody === firstBody && runs() === 1 &&
    repeat.headers.get('idempotent-replayed') === 'true' &&
    (repeat.headers.get('content-type') ?? '').startsWith('application/json'),
    `${repeat.status} ${repeatBody} runs=${runs()}`);
  const other = await post('k1', { item: 'lamp' });
  t.check('idempotency: the same key with another body is 422', other.status === 422 && runs() === 1,
    other.status);

  // A repeat while the first still runs: 409 with Retry-After.
  let open!: () => void;
  setGate(new Promise<void>((resolve) => { open = resolve; }));
  const slow = post('k2', { item: 'desk' });
  const before = runs();
  await until(() => runs() === before + 1, 10_000);
  const during = await post('k2', { item: 'desk' });
  t.check('idempotency: a repeat during the run is 409 with Retry-After',
    during.status === 409 && Number(during.headers.get('retry-after')) >= 1, during.status);
  open();
  setGate(Promise.resolve());
  t.check('idempotency: the slow first request completes', (await slow).status === 201);

  // A client that goes away during the run: the route runs on, its answer is stored, and
  // the retry gets it without a second run.
  setGate(new Promise<void>((resolve) => { open = resolve; }));
  const gone = new AbortController();
  const abandoned = fetch(`${base}/orders`, {
    method: 'POST', body: JSON.stringify({ item: 'chair' }), signal: gone.signal,
    headers: { 'content-type': 'application/json', 'idempotency-key': 'k4' },
  }).catch(() => null);
  const beforeGone = runs();
  await until(() => runs() === beforeGone + 1, 10_000);
  gone.abort();
  await abandoned;
  open();
  setGate(Promise.resolve());
  let retry: Response | null = null;
  await until(async () => { retry = await post('k4', { item: 'chair' }); return retry.status !== 409; }, 10_000);
  const retried4 = retry as Response | null;
  t.check('idempotency: a client gone during the run does not free the key; its retry gets the stored answer',
    retried4?.status === 201 && retried4.headers.get('idempotent-replayed') === 'true' && runs() === beforeGone + 1,
    `${retried4?.status} runs=${runs() - beforeGone}`);

  // 5xx is not stored: a repeat runs the route again.
  const failing = await post('k3', { fail: true });
  const afterFailure = runs();
  const retried = await post('k3', { fail: true });
  t.check('idempotency: a 5xx answer is not stored, a retry runs the route again',
    failing.status === 503 && retried.status === 503 && runs() === afterFailure + 1,
    `${failing.status} ${retried.status}`);
  const unkeyed = runs();
  await post(null, { item: 'x' });
  await post(null, { item: 'x' });
  t.check('idempotency: requests without the header run every time', runs() === unkeyed + 2);
  await sleep(0);
}

async function idempotentEdges(base: string, t: Checks, bigRuns: () => number, scopedRuns: () => number,
                               getRuns: () => number): Promise<void> {
  const post = (route: string, key: string, headers: Record<string, string> = {}) => fetch(`${base}${route}`, {
    method: 'POST', body: '{}', headers: { 'content-type': 'application/json', 'idempotency-key': key, ...headers },
  });
  // A response over batond's dedup.max_result_bytes: sent whole; a repeat gets its status and
  // Location, an empty body, and says the body was omitted; the route ran once.
  const big = await post('/big', 'big-1');
  const bigBody = await big.text();
  const again = await post('/big', 'big-1');
  const againBody = await again.text();
  t.check(`idempotency: a response over dedup.max_result_bytes (${2 * MAX_RESULT_BYTES} bytes) reaches the client whole`,
    big.status === 201 && bigBody.length === 2 * MAX_RESULT_BYTES, `${big.status} ${bigBody.length} bytes`);
  t.check('idempotency: its repeat gets the status and Location with an empty body, Idempotency-Body-Omitted, and the route does not run',
    again.status === 201 && againBody === '' && again.headers.get('idempotent-replayed') === 'true' &&
    again.headers.get('idempotency-body-omitted') === 'true' && again.headers.get('location') === '/big/1' &&
    bigRuns() === 1, `${again.status} ${JSON.stringify(Object.fromEntries(again.headers))} runs=${bigRuns()}`);

  // A key of 255 characters under a scope of 300: the DEDUP key is hashed (before, over 256
  // bytes: a 500).
  const longKey = 'k'.repeat(255);
  const tenant = { 'x-tenant': 't'.repeat(300) };
  const long1 = await post('/scoped', longKey, tenant);
  const long2 = await post('/scoped', longKey, tenant);
  const elsewhere = await post('/scoped', longKey, { 'x-tenant': 'another tenant' });
  t.check('idempotency: a 255-character key under a long scope works (hashed), and is replayed',
    long1.status === 201 && long2.status === 201 && long2.headers.get('idempotent-replayed') === 'true' &&
    elsewhere.status === 201 && elsewhere.headers.get('idempotent-replayed') === null && scopedRuns() === 2,
    `${long1.status} ${long2.status} ${elsewhere.status} runs=${scopedRuns()}`);
  const before = scopedRuns();
  const tooLong = await post('/scoped', 'k'.repeat(256), tenant);
  const notAscii = await post('/scoped', 'clé', tenant);
  const empty = await post('/scoped', '', tenant);
  t.check('idempotency: a key over 255 characters, not printable ASCII, or empty is 400 and the route does not run',
    tooLong.status === 400 && notAscii.status === 400 && empty.status === 400 && scopedRuns() === before,
    `${tooLong.status} ${notAscii.status} ${empty.status}`);
  const get = () => fetch(`${base}/scoped`, { headers: { 'idempotency-key': 'g1' } });
  const [g1, g2] = [await get(), await get()];
  t.check('idempotency: a GET with the header passes untouched (POST and PATCH only)',
    g1.status === 200 && g2.status === 200 && getRuns() === 2 && g2.headers.get('idempotent-replayed') === null,
    `runs=${getRuns()}`);
}

async function webRequests(baton: Baton, absent: Baton, t: Checks): Promise<void> {
  let handled = 0;
  const route = baton.withRateLimit(async (req: Request) => {
    handled++;
    return new Response(JSON.stringify({ path: new URL(req.url).pathname }),
                        { headers: { 'content-type': 'application/json' } });
  }, { policy: 'web', key: (req) => req.headers.get('x-user') ?? 'anonymous' });
  const call = () => route(new Request('http://app.test/api/items', { headers: { 'x-user': 'w1' } }));
  const answers = [await call(), await call(), await call()];
  t.check('withRateLimit: the handler runs within the limit, then 429 without running it',
    answers.map((r) => r.status).join() === '200,200,429' && handled === 2, answers.map((r) => r.status));
  t.check('withRateLimit: the handler\'s Response keeps its body and gets the fields',
    (await answers[0].json() as { path: string }).path === '/api/items' &&
    answers[0].headers.get('ratelimit-remaining') === '1' && !answers[0].headers.has('ratelimit') &&
    Number(answers[2].headers.get('retry-after')) > 0, Object.fromEntries(answers[0].headers));
  let through = 0;
  const open = absent.withRateLimit(async () => { through++; return new Response('ok'); },
                                    { policy: 'web', key: () => 'w2', onUnreachable: () => undefined });
  const closed = absent.withRateLimit(async () => { through++; return new Response('ok'); },
                                      { policy: 'web', key: () => 'w2', failOpen: false, onUnreachable: () => undefined });
  const [o, c] = [await open(new Request('http://app.test/a')), await closed(new Request('http://app.test/a'))];
  t.check('withRateLimit: batond unreachable: through by default, 503 with failOpen: false',
    o.status === 200 && c.status === 503 && through === 1, `${o.status} ${c.status}`);
}
