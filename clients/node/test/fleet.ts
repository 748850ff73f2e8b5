// What the tests share: a private redis-server and batond processes in a temp dir (sockets
// there, HTTP off), waiting on conditions with generous deadlines instead of fixed sleeps,
// pausing Redis (SIGSTOP) so that batond cannot renew, and a check counter printing
// "N passed, N failed" as the project's other client tests do.
import { ChildProcess, spawn } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import Redis from 'ioredis';

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Polls `predicate` every 50 ms until it answers true; exceptions count as not yet. */
export async function until(predicate: () => Promise<boolean> | boolean, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    try {
      if (await predicate()) return true;
    } catch {
      // not yet
    }
    await sleep(50);
  }
  return false;
}

/** A promise's value, or `fallback` once `ms` passed. */
export function within<T>(promise: Promise<T>, ms: number, fallback: T): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<T>((resolve) => { timer = setTimeout(() => resolve(fallback), ms); });
  return Promise.race([promise, late]).finally(() => clearTimeout(timer));
}

export class Checks {
  passed = 0;
  failed: string[] = [];
  check(name: string, condition: boolean, detail: unknown = ''): void {
    if (condition) {
      this.passed++;
      console.log('ok  ', name);
    } else {
      this.failed.push(name);
      console.log('FAIL', name, typeof detail === 'string' ? detail : JSON.stringify(detail));
    }
  }
}

/** The error a promise rejects with, or null when it resolves. */
export async function errorOf(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
    return null;
  } catch (error) {
    return error;
  }
}

export class Fleet {
  readonly work = fs.mkdtempSync(path.join(os.tmpdir(), 'baton-node-lib-'));
  readonly redisSocket = path.join(this.work, 'redis.sock');
  private readonly procs: ChildProcess[] = [];
  private readonly batonds = new Map<string, ChildProcess>();
  private redisProc: ChildProcess | undefined;

  constructor(private readonly batond: string) {}

  async startRedis(): Promise<void> {
    this.redisProc = spawn('redis-server', ['--port', '0', '--unixsocket', this.redisSocket,
      '--save', '', '--appendonly', 'no', '--logfile', path.join(this.work, 'redis.log')],
      { stdio: 'ignore' });
    this.procs.push(this.redisProc);
    const probe = new Redis({ path: this.redisSocket, lazyConnect: true, retryStrategy: () => 50 });
    probe.on('error', () => undefined);
    const up = await until(async () => {
      if (probe.status !== 'ready') await probe.connect().catch(() => undefined);
      return (await probe.ping()) === 'PONG';
    }, 20_000);
    probe.disconnect();
    if (!up) throw new Error('redis-server did not start');
  }

  /** batond `node` with `config` (YAML text); resolves with its socket once it reaches Redis. */
  async startBatond(node: string, config: string, env: Record<string, string> = {}): Promise<string> {
    const configPath = path.join(this.work, `${node}.yaml`);
    fs.writeFileSync(configPath, config);
    const socket = path.join(this.work, `${node}.sock`);
    const log = fs.openSync(path.join(this.work, `${node}.log`), 'a');
    const proc = spawn(this.batond, ['--config', configPath, '--socket', socket,
      '--redis', 'unix://' + this.redisSocket, '--http', 'off', '--node-id', node],
      { stdio: ['ignore', 'ignore', log], env: { ...process.env, ...env } });
    fs.closeSync(log);
    this.procs.push(proc);
    this.batonds.set(node, proc);
    if (!(await this.linkUp(socket))) throw new Error(`batond ${node} did not reach Redis: ${this.log(node)}`);
    return socket;
  }

  /** Waits until the batond on `socket` answers and its link to Redis is up. */
  async linkUp(socket: string, ms = 20_000): Promise<boolean> {
    const probe = new Redis({ path: socket, lazyConnect: true, retryStrategy: () => 50, enableReadyCheck: false });
    probe.on('error', () => undefined);
    const up = await until(async () => {
      if (probe.status !== 'ready') await probe.connect().catch(() => undefined);
      return String(await probe.info('redis')).includes('redis_reachable:1');
    }, ms);
    probe.disconnect();
    return up;
  }

  /** Stops (SIGSTOP) or continues (SIGCONT) redis-server: batond's calls go unanswered. */
  pauseRedis(paused: boolean): void {
    this.redisProc?.kill(paused ? 'SIGSTOP' : 'SIGCONT');
  }

  /** Sends `signal` to batond `node` (SIGSTOP: it hangs, answering nothing; SIGCONT). */
  signalBatond(node: string, signal: NodeJS.Signals): void {
    this.batonds.get(node)?.kill(signal);
  }

  /** Ends batond `node` with `signal` (SIGKILL: no goodbye to its clients) and waits for it. */
  async stopBatond(node: string, signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    const proc = this.batonds.get(node);
    if (!proc || proc.exitCode !== null || proc.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
    proc.kill(signal);
    if (signal !== 'SIGKILL' && !(await within(exited.then(() => true), 10_000, false))) proc.kill('SIGKILL');
    await exited;
  }

  /** A child process that ends with the fleet. */
  adopt(proc: ChildProcess): ChildProcess {
    this.procs.push(proc);
    return proc;
  }

  log(node: string): string {
    try {
      return fs.readFileSync(path.join(this.work, `${node}.log`), 'utf8').slice(-2000);
    } catch {
      return '';
    }
  }

  stop(): void {
    this.pauseRedis(false);
    for (const proc of this.procs.reverse()) proc.kill('SIGKILL');
    fs.rmSync(this.work, { recursive: true, force: true });
  }
}
