// The HTTP helpers against a real Express server and a real HTTP client (Node's fetch):
// rate-limit middleware (429, Retry-After, RateLimit fields), the web-Request wrapper, and the
// Idempotency-Key middleware (replay, 409 during a run, 422 for another body, 5xx not kept).
import express from 'express';
import type { AddressInfo } from 'net';
import { Baton } from '../src';
import { Checks, sleep, until } from './fleet';

export async function httpTests(baton: Baton, t: Checks): Promise<void> {
  const app = express();
  app.use(express.json());
  app.get('/limited', baton.rateLimit({ policy: 'web', key: (req) => String(req.headers['x-user']),
                                        limit: 2, windowSeconds: 3600 }),
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

  const server = app.listen(0, '127.0.0.1');
  await new Promise<void>((resolve) => server.once('listening', () => resolve()));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  try {
    await rateLimited(base, t);
    await idempotent(base, t, () => runs, (g) => { gate = g; });
    await webRequests(baton, t);
  } finally {
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
  t.check('rateLimit: RateLimit fields on an admitted answer',
    ok.headers.get('ratelimit-remaining') === '1' && ok.headers.get('ratelimit-limit') === '2' &&
    /^"web";r=1;t=\d+$/.test(ok.headers.get('ratelimit') ?? '') &&
    ok.headers.get('ratelimit-policy') === '"web";q=2;w=3600',
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

async function webRequests(baton: Baton, t: Checks): Promise<void> {
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
    answers[0].headers.get('ratelimit-remaining') === '1' &&
    Number(answers[2].headers.get('retry-after')) > 0, Object.fromEntries(answers[0].headers));
}
