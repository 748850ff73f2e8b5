// ioredis and node-redis (from npm) as real clients of batond, against a private
// redis-server: leases with KEEP through each client's generic command call, a DENIED reply
// as the client's error type, and baton's lease and election events through each client's own
// pub/sub API (ioredis on RESP2, node-redis on RESP3); RATE CHECK and DEDUP CLAIM.
// Usage: node node_client_test.js BATOND   (NODE_PATH points at the installed packages)
'use strict';
const { spawn } = require('child_process');
const fs = require('fs');
const os = require('os');
const path = require('path');
const IORedis = require('ioredis');
const { createClient } = require('redis');

const batond = process.argv[2];
const work = fs.mkdtempSync(path.join(os.tmpdir(), 'baton-node-'));
const redisSock = path.join(work, 'redis.sock');
const batonSock = path.join(work, 'baton.sock');
const batonSockB = path.join(work, 'baton-b.sock');
const procs = [];
let passed = 0;
let failed = 0;

function check(name, condition, detail = '') {
  if (condition) {
    passed++;
    console.log('ok  ', name);
  } else {
    failed++;
    console.log('FAIL', name, detail);
  }
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

async function until(predicate, ms) {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    try {
      if (await predicate()) return true;
    } catch (e) {
      // not up yet
    }
    await sleep(50);
  }
  return false;
}

// The next message a subscriber receives, or null after `ms`.
function nextMessage(queue, ms) {
  return new Promise((resolve) => {
    if (queue.items.length) return resolve(queue.items.shift());
    const timer = setTimeout(() => {
      queue.waiter = null;
      resolve(null);
    }, ms);
    queue.waiter = (m) => {
      clearTimeout(timer);
      queue.waiter = null;
      resolve(m);
    };
  });
}

function messageQueue() {
  const queue = { items: [], waiter: null };
  queue.push = (m) => (queue.waiter ? queue.waiter(m) : queue.items.push(m));
  return queue;
}

function fields(reply) {
  // RESP2 maps arrive as flat arrays, RESP3 maps as objects (node-redis) or Maps.
  if (Array.isArray(reply)) {
    const out = {};
    for (let i = 0; i + 1 < reply.length; i += 2) out[reply[i]] = reply[i + 1];
    return out;
  }
  if (reply instanceof Map) return Object.fromEntries(reply);
  return reply;
}

async function withIORedis() {
  const sub = new IORedis({ path: batonSock, lazyConnect: true });
  await sub.connect();
  const events = messageQueue();
  sub.on('message', (channel, message) => events.push({ channel, message }));
  const count = await sub.subscribe('lease:io-job');
  check('ioredis: subscribe to lease:io-job', count === 1, String(count));

  const holder = new IORedis({ path: batonSock });
  const granted = fields(await holder.call('LEASE', 'ACQUIRE', 'io-job', '1000', 'KEEP'));
  const token = Number(granted.token);
  check('ioredis: LEASE ACQUIRE KEEP', token > 0 && granted.validity_ms > 0, JSON.stringify(granted));
  let m = await nextMessage(events, 5000);
  check('ioredis: acquisition message', m && m.channel === 'lease:io-job' &&
        m.message === `acquired ${token} node-js`, JSON.stringify(m));

  await sleep(1500); // KEEP renews past the 1000 ms TTL
  const other = new IORedis({ path: batonSock });
  let denied = null;
  try {
    await other.call('LEASE', 'ACQUIRE', 'io-job', '300');
  } catch (e) {
    denied = e;
  }
  check('ioredis: DENIED while KEEP holds it', denied && denied.name === 'ReplyError' &&
        denied.message.startsWith('DENIED'), String(denied));

  holder.disconnect(); // the holder goes away: released at once
  m = await nextMessage(events, 5000);
  check('ioredis: release message on disconnect', m && m.message.startsWith(`released ${token}`),
        JSON.stringify(m));
  const again = fields(await other.call('LEASE', 'ACQUIRE', 'io-job', '5000'));
  check('ioredis: the next holder gets a higher token', Number(again.token) > token);
  other.disconnect();
  sub.disconnect();
}

async function withNodeRedis() {
  const client = createClient({ socket: { path: batonSock }, RESP: 3 });
  client.on('error', () => {});
  await client.connect();
  const sub = client.duplicate();
  sub.on('error', () => {});
  await sub.connect();
  const events = messageQueue();
  await sub.subscribe('elect:node-group', (message, channel) => events.push({ channel, message }));
  let m = await nextMessage(events, 5000);
  check('node-redis: a group subscriber hears it is vacant', m && m.message === 'vacant 0  ',
        JSON.stringify(m));

  const joined = fields(await client.sendCommand(['ELECT', 'JOIN', 'node-group', 'candidate one']));
  const term = Number(joined.term);
  check('node-redis: ELECT JOIN leads with a term', term > 0, JSON.stringify(joined));
  m = await nextMessage(events, 5000);
  check('node-redis: leader message with the term', m &&
        m.message === `leader ${term} node-js candidate one`, JSON.stringify(m));

  const leader = fields(await client.sendCommand(['ELECT', 'LEADER', 'node-group']));
  check('node-redis: ELECT LEADER', leader.candidate === 'candidate one' &&
        Number(leader.term) === term, JSON.stringify(leader));
  const resigned = await client.sendCommand(['ELECT', 'RESIGN', 'node-group']);
  check('node-redis: ELECT RESIGN', resigned === 'OK', String(resigned));
  m = await nextMessage(events, 5000);
  check('node-redis: vacant message after resigning', m && m.message.startsWith(`vacant ${term}`),
        JSON.stringify(m));

  const kept = fields(await client.sendCommand(['LEASE', 'ACQUIRE', 'nr-job', '1000', 'KEEP']));
  await sleep(1500);
  const info = fields(await client.sendCommand(['LEASE', 'INFO', 'nr-job']));
  check('node-redis: KEEP holds past the TTL', Number(info.token) === Number(kept.token) &&
        info.state === 'held', JSON.stringify(info));
  await sub.unsubscribe('elect:node-group');
  await sub.quit();
  await client.quit();
}

// Rate limits and idempotency keys, the per-request calls of a web app: ioredis concurrently
// (its auto-pipelining keeps order per connection), node-redis on RESP3 maps.
async function rateAndDedup() {
  const io = new IORedis({ path: batonSock });
  const verdicts = await Promise.all(
    Array.from({ length: 6 }, () => io.call('RATE', 'CHECK', 'node-api', 'user:1')));
  const allowed = verdicts.map((v) => Number(fields(v).allowed));
  check('ioredis: RATE CHECK admits exactly the limit, in order',
        allowed.join('') === '111100', allowed.join(''));
  const refusal = fields(verdicts[5]);
  check('ioredis: a refusal says when to retry', Number(refusal.retry_after_ms) > 0 &&
        Number(refusal.remaining) === 0, JSON.stringify(refusal));
  let error = null;
  try {
    await io.call('RATE', 'CHECK', 'node-api', 'user:1', 'COST', '5');
  } catch (e) {
    error = e;
  }
  check('ioredis: COST above the limit is a ReplyError', error && error.name === 'ReplyError' &&
        error.message.includes('exceeds the smallest limit'), String(error));

  const nr = createClient({ socket: { path: batonSock }, RESP: 3 });
  nr.on('error', () => {});
  await nr.connect();
  const first = fields(await io.call('DEDUP', 'CLAIM', 'node-order', '10000'));
  check('ioredis: DEDUP CLAIM new', first.status === 'new', JSON.stringify(first));
  const dup = fields(await nr.sendCommand(['DEDUP', 'CLAIM', 'node-order', '10000']));
  check('node-redis: DEDUP CLAIM pending while the first works', dup.status === 'pending' &&
        dup.result === null, JSON.stringify(dup));
  const done = await io.call('DEDUP', 'DONE', 'node-order', '{"id":7}');
  check('ioredis: DEDUP DONE', done === 'OK', String(done));
  const later = fields(await nr.sendCommand(['DEDUP', 'CLAIM', 'node-order', '10000']));
  check('node-redis: DEDUP CLAIM done with the result', later.status === 'done' &&
        later.result === '{"id":7}', JSON.stringify(later));
  const peek = fields(await nr.sendCommand(['RATE', 'PEEK', 'node-api', 'user:2']));
  check('node-redis: RATE PEEK as a RESP3 map', Number(peek.allowed) === 1 &&
        Number(peek.remaining) === 3 && peek.source === 'redis', JSON.stringify(peek));
  await nr.quit();
  io.disconnect();
}

// Sessions across two daemons: ioredis opens one on the first and writes its state;
// node-redis (RESP3) resumes it on the second with the token, which makes that daemon the
// owner; the first may no longer write; the token works once.
async function sessions() {
  const io = new IORedis({ path: batonSock });
  const opened = fields(await io.call('SESSION', 'OPEN', 'node-user', '60000'));
  check('ioredis: SESSION OPEN', opened.id.length === 32 && opened.token.startsWith('v1.'),
        JSON.stringify(opened));
  const written = fields(await io.call('SESSION', 'STATE', opened.id, 'SET', 'page=4'));
  check('ioredis: SESSION STATE SET', Number(written.state_version) === 1, JSON.stringify(written));
  check('the second batond is up', await linkUp(batonSockB));
  const nr = createClient({ socket: { path: batonSockB }, RESP: 3 });
  nr.on('error', () => {});
  await nr.connect();
  const resumed = fields(await nr.sendCommand(['SESSION', 'RESUME', opened.token]));
  check('node-redis: SESSION RESUME on the other daemon brings the state',
        resumed.state === 'page=4' && resumed.owner === 'node-js-b', JSON.stringify(resumed));
  let error = null;
  try {
    await io.call('SESSION', 'STATE', opened.id, 'SET', 'page=5');
  } catch (e) {
    error = e;
  }
  check('ioredis: the old owner is fenced out (MOVED)', error && error.message.startsWith('MOVED'),
        String(error));
  error = null;
  try {
    await nr.sendCommand(['SESSION', 'RESUME', opened.token]);
  } catch (e) {
    error = e;
  }
  check('node-redis: a replayed token is refused', error && error.message.startsWith('REFUSED'),
        String(error));
  // ioredis' pub/sub API hears the handoff of a drain: SUBSCRIBE sessions on the draining
  // daemon, NODE DRAIN, and the client resumes with the pushed token on the target.
  const moving = fields(await nr.sendCommand(['SESSION', 'OPEN', 'node-user-2']));
  const sub = new IORedis({ path: batonSockB });
  // b owns two sessions now (the one resumed above too): wait for this one's handoff.
  const heard = new Promise((resolve) => sub.on('message', (channel, text) => {
    if (text.split(' ')[1] === moving.id) resolve(text);
  }));
  await sub.subscribe('sessions');
  await nr.sendCommand(['NODE', 'DRAIN']);
  const text = await Promise.race([heard, new Promise((r) => setTimeout(() => r(''), 5000))]);
  const words = text.split(' ');
  check('ioredis: SUBSCRIBE sessions hears handoff-out with the target and a token',
        words[0] === 'handoff-out' && words[1] === moving.id && words[2] === 'node-js' &&
        words[4].startsWith('v1.'), text);
  const back = fields(await io.call('SESSION', 'RESUME', words[4] || 'none'));
  check('ioredis: the client resumes on the target with the pushed token',
        back.id === moving.id && back.owner === 'node-js', JSON.stringify(back));
  sub.disconnect();
  await nr.quit();
  io.disconnect();
}

// Waits until the batond on `socket` answers and its link to Redis is up.
// A fleet breaker tripped through daemon A by node-redis is heard by an ioredis subscriber
// on daemon B (SUBSCRIBE breaker:<name>) and refused there by CHECK.
async function breakers() {
  const sub = new IORedis({ path: batonSockB, lazyConnect: true });
  await sub.connect();
  const events = messageQueue();
  sub.on('message', (channel, message) => events.push({ channel, message }));
  const count = await sub.subscribe('breaker:js-pay');
  check('ioredis: subscribe to breaker:js-pay', count === 1, String(count));

  const client = createClient({ socket: { path: batonSock }, RESP: 3 });
  client.on('error', () => {});
  await client.connect();
  const before = fields(await client.sendCommand(['BREAKER', 'CHECK', 'js-pay']));
  check('node-redis: BREAKER CHECK closed', before.allowed === 1 && before.state === 'closed',
        JSON.stringify(before));
  for (let i = 0; i < 3; i++)
    await client.sendCommand(['BREAKER', 'REPORT', 'js-pay', 'fail', '12']);
  let bad = null;
  try {
    await client.sendCommand(['BREAKER', 'REPORT', 'js-pay', 'sideways']);
  } catch (e) {
    bad = e;
  }
  check('node-redis: a bad outcome word is an error', bad && /ok, fail or slow/.test(bad.message),
        String(bad));
  const m = await nextMessage(events, 5000);
  check('ioredis: the trip reaches the other daemon as a message', m &&
        m.channel === 'breaker:js-pay' && m.message.startsWith('open ') &&
        m.message.endsWith(' node-js'), JSON.stringify(m));
  const other = new IORedis({ path: batonSockB });
  const there = fields(await other.call('BREAKER', 'CHECK', 'js-pay'));
  check('ioredis: CHECK on the other daemon refuses', there.allowed === 0 && there.state === 'open',
        JSON.stringify(there));
  other.disconnect();
  await client.quit();
  sub.disconnect();
}

async function linkUp(socket) {
  const probe = new IORedis({ path: socket, lazyConnect: true, retryStrategy: () => 50,
    maxRetriesPerRequest: null });
  probe.on('error', () => {});
  const up = await until(async () => {
    if (probe.status !== 'ready') await probe.connect().catch(() => {});
    return (await probe.info('redis')).includes('redis_reachable:1');
  }, 10000);
  probe.disconnect();
  return up;
}

async function main() {
  procs.push(spawn('redis-server', ['--port', '0', '--unixsocket', redisSock, '--save', '',
    '--appendonly', 'no', '--logfile', path.join(work, 'redis.log')], { stdio: 'ignore' }));
  const log = fs.openSync(path.join(work, 'batond.log'), 'w');
  const config = path.join(work, 'baton.yaml');
  fs.writeFileSync(config, 'rate:\n  policies:\n' +
    '    - {name: node-api, windows: [{window_ms: 3600000, limit: 4}]}\n' +
    'breakers:\n  policies:\n' +
    '    - {name: js-pay, window: {calls: 3}, minimum_calls: 3, open_ms: 60000, scope: fleet}\n' +
    'secrets:\n  keks:\n    - {id: js, env: BATON_JS_KEK}\n');
  const env = { ...process.env, BATON_JS_KEK: 'cd'.repeat(32) };
  procs.push(spawn(batond, ['--config', config, '--socket', batonSock,
    '--redis', 'unix://' + redisSock,
    '--http', 'off', '--node-id', 'node-js'], { stdio: ['ignore', 'ignore', log], env }));
  procs.push(spawn(batond, ['--config', config, '--socket', batonSockB,
    '--redis', 'unix://' + redisSock,
    '--http', 'off', '--node-id', 'node-js-b'], { stdio: ['ignore', 'ignore', log], env }));
  const up = await linkUp(batonSock);
  check('batond is up with its Redis link', up);
  if (!up) return;
  await withIORedis();
  await withNodeRedis();
  await rateAndDedup();
  await sessions();
  await breakers();
}

const overall = setTimeout(() => {
  console.log('FAIL the test did not finish within 60 s');
  failed++;
  finish();
}, 60000);

function finish() {
  clearTimeout(overall);
  for (const p of procs.reverse()) p.kill('SIGKILL');
  fs.rmSync(work, { recursive: true, force: true });
  console.log(`${passed} passed, ${failed} failed`);
  process.exit(failed ? 1 : 0);
}

main().then(finish, (e) => {
  console.log('FAIL', e && e.stack ? e.stack : String(e));
  failed++;
  finish();
});
