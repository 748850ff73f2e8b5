// Baton: the typed client of one batond over its local Unix socket. It finds the socket, holds
// one shared ioredis connection (ioredis pipelines concurrent calls on it, in order), and joins
// the families, each in its own file, into one object: `baton.check(...)`, `baton.withLock(...)`,
// `baton.secrets.get(...)`, `baton.sessions.follow()`.
import Redis, { RedisOptions } from 'ioredis';
import type { IncomingMessage } from 'http';
import { Breaker, BreakerOptions } from './breakers';
import { CacheCalls } from './cache';
import { DedupCalls, OnceOptions } from './dedup';
import { campaign, CampaignOptions, LeaderEvent, LeaderObserver, Leadership } from './elections';
import { EventCalls } from './events';
import { rateLimit, RateLimitOptions, withRateLimit } from './http-rate';
import { idempotency, IdempotencyOptions } from './http-idempotency';
import { AcquireOptions, Lease, LeaseCalls, LeaseInfo } from './leases';
import { Arg, Link } from './link';
import { LockOptions, withLock } from './lock';
import { RateCalls, RateDecision } from './rate';
import { SecretCalls } from './secrets';
import { SessionCalls } from './sessions';
import { StateCalls } from './state';

/** batond's `socket.path` default (daemon/config.hpp); batonctl looks in the same places. */
export const DEFAULT_SOCKET = '/run/baton/baton.sock';

/** The option, else $BATON_SOCKET, else batond's default. */
export function socketPathFrom(option?: string): string {
  return option || process.env.BATON_SOCKET || DEFAULT_SOCKET;
}

export interface BatonOptions {
  socket?: string;
  /** Passed to every ioredis connection this client opens (timeouts, retry strategy), but
   *  for `autoResendUnfulfilledCommands`, always off (link.ts says why). */
  redis?: RedisOptions;
}

export class Baton {
  readonly socketPath: string;
  readonly leases: LeaseCalls;
  readonly rate: RateCalls;
  readonly dedup: DedupCalls;
  readonly secrets: SecretCalls;
  readonly sessions: SessionCalls;
  readonly state: StateCalls;
  readonly cache: CacheCalls;
  readonly events: EventCalls;
  private readonly link: Link;

  constructor(options: BatonOptions = {}) {
    this.socketPath = socketPathFrom(options.socket);
    this.link = new Link(this.socketPath, options.redis ?? {});
    this.leases = new LeaseCalls(this.link);
    this.rate = new RateCalls(this.link);
    this.dedup = new DedupCalls(this.link);
    this.secrets = new SecretCalls(this.link);
    this.sessions = new SessionCalls(this.link);
    this.state = new StateCalls(this.link);
    this.cache = new CacheCalls(this.link);
    this.events = new EventCalls(this.link);
  }

  /** The shared ioredis connection, for commands this library does not wrap. */
  get redis(): Redis {
    return this.link.redis;
  }

  /** Any command, its reply untyped, its error as a BatonError. */
  command(command: string, ...args: Arg[]): Promise<unknown> {
    return this.link.call(command, ...args);
  }

  // -- leases and elections -------------------------------------------------------------

  acquire(name: string, ttlMs: number, options?: AcquireOptions): Promise<Lease> {
    return this.leases.acquire(name, ttlMs, options);
  }

  renew(name: string, token: number, ttlMs?: number): Promise<Lease> {
    return this.leases.renew(name, token, ttlMs);
  }

  release(name: string, token: number): Promise<void> {
    return this.leases.release(name, token);
  }

  info(name: string): Promise<LeaseInfo | null> {
    return this.leases.info(name);
  }

  /** Runs `body` while the lease `name` is held (KEEP, on a connection of its own), with the
   *  fencing token and a signal aborted (reason: Lost) if the lease is lost meanwhile; then
   *  releases it. Denied if another holds it (after `waitMs`). If the lease was lost and
   *  `body` returned anyway, withLock throws that Lost. */
  withLock<T>(name: string, body: (token: number, signal: AbortSignal) => Promise<T>,
              options?: LockOptions): Promise<T> {
    return withLock(this.link, name, body, options);
  }

  /** Waits until this process leads `group` (ELECT JOIN on a connection of its own). */
  campaign(group: string, candidate: string, options?: CampaignOptions): Promise<Leadership> {
    return campaign(this.link, group, candidate, options);
  }

  /** Follows `group`'s leader: the leader now, then every change. */
  observeLeader(group: string, onChange: (event: LeaderEvent) => void): Promise<LeaderObserver> {
    return LeaderObserver.start(this.link, group, onChange);
  }

  // -- rate limits and idempotency ------------------------------------------------------

  check(policy: string, key: string, options?: { cost?: number }): Promise<RateDecision> {
    return this.rate.check(policy, key, options);
  }

  /** Express/Connect middleware: 429 with Retry-After past the policy, RateLimit fields. */
  rateLimit<Req extends IncomingMessage = IncomingMessage>(options: RateLimitOptions<Req>) {
    return rateLimit(this.rate, options);
  }

  /** Wraps a web-Request handler (a Next.js route handler on the Node runtime). */
  withRateLimit<Ctx extends unknown[]>(
      handler: (req: Request, ...context: Ctx) => Response | Promise<Response>,
      options: RateLimitOptions<Request>) {
    return withRateLimit(this.rate, handler, options);
  }

  once<T>(key: string, work: () => Promise<T> | T, options?: OnceOptions): Promise<T> {
    return this.dedup.once(key, work, options);
  }

  /** Express/Connect middleware for the `Idempotency-Key` header (http-idempotency.ts). */
  idempotency<Req extends IncomingMessage & { body?: unknown } = IncomingMessage>(
      options?: IdempotencyOptions<Req>) {
    return idempotency(this.link, options);
  }

  // -- breakers -------------------------------------------------------------------------

  breaker(name: string, options?: BreakerOptions): Breaker {
    return new Breaker(this.link, name, options);
  }

  /** Closes the shared connection (a lease or claim taken on it ends with it). Locks,
   *  leaderships, followers and watchers have connections of their own: close them. */
  close(): void {
    this.link.close();
  }
}
