// The Node library's tests, every helper against real daemons: a private redis-server and two
// batonds in a temp dir. Usage (after tsc built dist/): node dist/test/main.js BATOND
// (test/run.js builds and runs it). Prints each check and "N passed, N failed".
import * as fs from 'fs';
import * as net from 'net';
import * as path from 'path';
import { Baton } from '../src';
import { basicsTests, breakerTests, onceTests, secretTests, stateCacheEventTests } from './families_test';
import { Checks, Fleet } from './fleet';
import { handoffTests } from './handoff_test';
import { httpTests, MAX_RESULT_BYTES } from './http_test';
import { electionTests, leaseTests } from './leases_test';
import { reconnectTests } from './reconnect_test';

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.listen(0, '127.0.0.1', () => {
      const port = (server.address() as net.AddressInfo).port;
      server.close(() => resolve(port));
    });
    server.on('error', reject);
  });
}

function config(kek: string, wsPort: number): string {
  return `secrets:\n  keks:\n    - {id: k1, file: ${kek}}\n` +
    'rate:\n  policies:\n' +
    '    - {name: api, windows: [{window_ms: 3600000, limit: 3}]}\n' +
    '    - {name: web, windows: [{window_ms: 3600000, limit: 2}]}\n' +
    'state:\n  namespaces:\n    - {name: orders}\n' +
    'cache:\n  namespaces:\n    - {name: users, ttl_ms: 60000}\n' +
    'breakers:\n  default: {window: {calls: 100}}\n  policies:\n' +
    '    - {name: flaky, window: {calls: 3}, minimum_calls: 3, open_ms: 60000}\n' +
    '    - {name: sluggish, window: {calls: 3}, minimum_calls: 3, open_ms: 60000, slow_call_ms: 50}\n' +
    `membership: {heartbeat_ms: 100, ttl_ms: 1000, address: "ws://127.0.0.1:${wsPort}"}\n` +
    'sessions: {handoff_deadline_ms: 10000}\n' +
    `dedup: {max_result_bytes: ${MAX_RESULT_BYTES}}\n`;
}

async function main(): Promise<number> {
  const batond = process.argv[2];
  if (!batond) throw new Error('usage: main.js BATOND');
  const t = new Checks();
  const fleet = new Fleet(batond);
  const began = Date.now();
  const overall = setTimeout(() => {
    console.log('FAIL the test did not finish within 150 s');
    fleet.stop();
    console.log(`${t.passed} passed, ${t.failed.length + 1} failed`);
    process.exit(1);
  }, 150_000);
  try {
    const kek = path.join(fleet.work, 'k1.kek');
    fs.writeFileSync(kek, 'ab'.repeat(32) + '\n');
    const ports: [number, number, number] = [await freePort(), await freePort(), await freePort()];
    await fleet.startRedis();
    const sockets: [string, string] = [
      await fleet.startBatond('node-a', config(kek, ports[0])),
      await fleet.startBatond('node-b', config(kek, ports[1])),
    ];
    const baton = new Baton({ socket: sockets[0] });
    const sections: [string, () => Promise<void>][] = [
      ['basics', () => basicsTests(baton, t)],
      ['leases', () => leaseTests(baton, fleet, t)],
      ['elections', () => electionTests(baton, fleet, t)],
      ['http', () => httpTests(baton, t)],
      ['once', () => onceTests(baton, t)],
      ['secrets', () => secretTests(baton, t)],
      ['state, cache, events', () => stateCacheEventTests(baton, t)],
      ['breakers', () => breakerTests(baton, t)],
      ['session handoff', () => handoffTests(fleet, t, path.resolve(__dirname, '..'), sockets, [ports[0], ports[1]])],
      // Last: its third daemon, killed and restarted, must not be a handoff target.
      ['reconnect', () => reconnectTests(fleet, t, config(kek, ports[2]))],
    ];
    for (const [name, run] of sections) {
      const started = Date.now();
      console.log(`-- ${name}`);
      try {
        await run();
      } catch (error) {
        t.check(`${name} ran to its end`, false, error instanceof Error ? error.stack ?? '' : String(error));
      }
      console.log(`   (${((Date.now() - started) / 1000).toFixed(1)} s)`);
    }
    baton.close();
  } finally {
    clearTimeout(overall);
    if (t.failed.length) console.log(fleet.log('node-a'));
    fleet.stop();
  }
  console.log(`     (${((Date.now() - began) / 1000).toFixed(1)} s in all)`);
  console.log(`${t.passed} passed, ${t.failed.length} failed`);
  return t.failed.length ? 1 : 0;
}

main().then((code) => process.exit(code), (error: unknown) => {
  console.log('FAIL', error instanceof Error ? error.stack : String(error));
  console.log('0 passed, 1 failed');
  process.exit(1);
});
