// What the library adds over raw ioredis: calls/s of `redis.call('RATE','CHECK',...)` against
// `baton.check(...)`, and of raw SECRET GET and STATE GET against `secrets.get` and
// `state.get`, in the same run, side by side with their ratio (target: helpers cost < 5%).
// Each side has a connection of its own and keeps `depth` calls in flight (ioredis pipelines
// them). This process's CPU per call is printed too: on a busy machine throughput is noisy,
// and CPU per call is what a library can add.
//   node dist/bench/overhead.js BATOND [pairs of slices]   (test/run.js --bench does it)
import * as fs from 'fs';
import * as path from 'path';
import Redis from 'ioredis';
import { Baton } from '../src';
import { Fleet } from '../test/fleet';

type Call = () => Promise<unknown>;

interface Slice {
  perSecond: number;
  /** This process's CPU (user + system) per call: what the client side costs. */
  cpuMicros: number;
}

async function slice(call: Call, ms: number, depth: number): Promise<Slice> {
  let done = 0;
  const end = performance.now() + ms;
  async function lane(): Promise<void> {
    while (performance.now() < end) {
      await call();
      done++;
    }
  }
  const cpu = process.cpuUsage();
  const started = performance.now();
  await Promise.all(Array.from({ length: depth }, lane));
  const used = process.cpuUsage(cpu);
  return { perSecond: (done * 1000) / (performance.now() - started), cpuMicros: (used.user + used.system) / done };
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];

/** Short slices, raw and library in turn (which goes first alternates), so that a machine
 *  busy with other work slows both alike; medians of the slices and of each pair's ratio. */
async function compare(name: string, raw: Call, lib: Call, pairs: number, depth: number): Promise<void> {
  await slice(raw, 300, depth); // warm both paths (JIT, connections)
  await slice(lib, 300, depth);
  const raws: Slice[] = [];
  const libs: Slice[] = [];
  const ratios: number[] = [];
  for (let pair = 0; pair < pairs; pair++) {
    const rawFirst = pair % 2 === 0;
    const a = await slice(rawFirst ? raw : lib, 200, depth);
    const b = await slice(rawFirst ? lib : raw, 200, depth);
    const [r, l] = rawFirst ? [a, b] : [b, a];
    raws.push(r);
    libs.push(l);
    ratios.push(r.perSecond / l.perSecond);
  }
  const ratio = median(ratios);
  console.log(`${name.padEnd(11)} raw ${median(raws.map((s) => s.perSecond)).toFixed(0).padStart(6)}/s ` +
              `library ${median(libs.map((s) => s.perSecond)).toFixed(0).padStart(6)}/s ` +
              `raw/library ${ratio.toFixed(3)} (${((ratio - 1) * 100).toFixed(1)}%)   client CPU per call: ` +
              `raw ${median(raws.map((s) => s.cpuMicros)).toFixed(1)} us, library ${median(libs.map((s) => s.cpuMicros)).toFixed(1)} us`);
}

async function main(): Promise<void> {
  const batond = process.argv[2];
  const pairs = Number(process.argv[3] ?? 15);
  const fleet = new Fleet(batond);
  try {
    const kek = path.join(fleet.work, 'k1.kek');
    fs.writeFileSync(kek, 'ab'.repeat(32) + '\n');
    await fleet.startRedis();
    const socket = await fleet.startBatond('bench', `secrets:\n  keks:\n    - {id: k1, file: ${kek}}\n` +
      'rate:\n  policies:\n    - {name: bench, windows: [{window_ms: 3600000, limit: 1000000000}]}\n' +
      'state:\n  namespaces:\n    - {name: bench}\n');
    const raw = new Redis({ path: socket, enableReadyCheck: false });
    const baton = new Baton({ socket });
    await baton.command('SECRET', 'PUT', 'bench-secret', 'x'.repeat(32));
    await baton.state.set('bench', 'k', 'v'.repeat(64));
    const depth = 32;
    console.log(`one connection each side, ${depth} calls in flight, ${pairs} pairs of 200 ms slices, medians`);
    await compare('RATE CHECK', () => raw.call('RATE', 'CHECK', 'bench', 'user:1'),
                  () => baton.check('bench', 'user:1'), pairs, depth);
    await compare('SECRET GET', () => raw.call('SECRET', 'GET', 'bench-secret'),
                  () => baton.secrets.get('bench-secret'), pairs, depth);
    await compare('STATE GET', () => raw.call('STATE', 'GET', 'bench', 'k'),
                  () => baton.state.get('bench', 'k'), pairs, depth);
    raw.disconnect();
    baton.close();
  } finally {
    fleet.stop();
  }
}

main().then(() => process.exit(0), (error: unknown) => {
  console.error(error);
  process.exit(1);
});
