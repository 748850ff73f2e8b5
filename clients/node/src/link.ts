// The one place that talks to ioredis: the shared connection most calls go through, calls that
// keep baton's error codes whole, and connections of their own for what batond ties to a
// connection (a KEEP lease, a claim, a leadership) or that wait on purpose (WAIT, BLOCK,
// ELECT JOIN), which would otherwise hold up every call queued behind them on the shared one.
import Redis, { RedisOptions } from 'ioredis';
import { ConnectionClosed, errorFromReply } from './errors';

/** What a call may send: ioredis encodes each as a bulk string. */
export type Arg = string | Buffer | number;

function translated(error: unknown): unknown {
  // ioredis' ReplyError carries the whole error line ("DENIED lease ..."); anything else
  // (a closed connection, a timeout) is not batond's answer and goes on unchanged.
  if (error instanceof Error && error.name === 'ReplyError') return errorFromReply(error.message);
  return error;
}

function rethrowTranslated(error: unknown): never {
  throw translated(error);
}

/** Options on every connection this library opens.
 *
 *  `autoResendUnfulfilledCommands: false`: ioredis would otherwise send again, after a
 *  reconnect, every command that was written and not answered when the connection broke, and
 *  a SESSION OPEN, an EVENTS PUBLISH without DEDUP, a RATE CHECK or a SECRET ROTATE that the
 *  old daemon may have run would run twice. Such a call rejects with ConnectionClosed instead
 *  (see `rejectUnansweredOnClose`: with the option off, ioredis 5 drops those commands without
 *  settling their promises).
 *
 *  `enableOfflineQueue` stays on (ioredis' default): a command issued before the first connect
 *  or while reconnecting is queued unwritten and written once when the connection is up, so
 *  it is sent exactly once; that makes `new Baton()` usable at once, and a call during a
 *  daemon restart waits for it (for up to `maxRetriesPerRequest` reconnect attempts) instead
 *  of failing. Only a command already written to a connection that broke is in doubt, and
 *  that one is never sent again. */
const SAFE_DEFAULTS: RedisOptions = {
  // No ready check: it costs an INFO per connect and batond is ready once it accepts.
  enableReadyCheck: false,
  enableOfflineQueue: true,
};
const NEVER_RESEND: RedisOptions = { autoResendUnfulfilledCommands: false };

/** The commands written to a connection that closed without their answers reject with
 *  ConnectionClosed at once. ioredis emits 'close' on the next tick after it moved them aside,
 *  before any reconnect (which waits for the retry delay), and they are still in its command
 *  queue then; `flushQueue` (not in ioredis' types) rejects them, leaving the offline queue of
 *  never-written commands to be sent on the next connection. */
export function rejectUnansweredOnClose(redis: Redis): void {
  const internal = redis as unknown as {
    flushQueue(error: Error, options: { offlineQueue: boolean; commandQueue: boolean }): void;
  };
  redis.on('close', () => {
    internal.flushQueue(new ConnectionClosed(), { offlineQueue: false, commandQueue: true });
  });
}

export class Link {
  readonly redis: Redis;
  private everDown = false;
  constructor(readonly socketPath: string, readonly options: RedisOptions, redis?: Redis) {
    this.redis = redis ?? new Redis({ ...SAFE_DEFAULTS, ...options, ...NEVER_RESEND, path: socketPath });
    if (!redis) rejectUnansweredOnClose(this.redis);
    this.redis.on('reconnecting', () => { this.everDown = true; });
    // ioredis logs "Unhandled error event" without a listener; failed calls reject anyway.
    this.redis.on('error', () => undefined);
  }

  /** One command; its reply as ioredis parses it, or its error as a BatonError. */
  call(command: string, ...args: Arg[]): Promise<unknown> {
    // Not an async function: one promise fewer per call (the bench counts them).
    return this.redis.call(command, ...args).catch(rethrowTranslated);
  }

  /** A connection of its own that never reconnects: what batond ties to it (a KEEP lease, a
   *  claim, a leadership) ends when it closes, and a silent reconnect would hide that. */
  async dedicated(): Promise<Link> {
    const redis = new Redis({
      ...SAFE_DEFAULTS, ...this.options, ...NEVER_RESEND, path: this.socketPath, lazyConnect: true,
      retryStrategy: () => null, maxRetriesPerRequest: 0, autoResubscribe: false,
    });
    rejectUnansweredOnClose(redis);
    const link = new Link(this.socketPath, this.options, redis);
    await redis.connect();
    return link;
  }

  /** A connection for SUBSCRIBE. `reconnect`: follow again after a broken connection
   *  (ioredis resubscribes), for watchers that tolerate a gap; lock watchers do not. */
  async subscriber(reconnect: boolean): Promise<Redis> {
    const redis = new Redis({
      ...SAFE_DEFAULTS, ...this.options, ...NEVER_RESEND, path: this.socketPath, lazyConnect: true,
      ...(reconnect ? {} : { retryStrategy: () => null, autoResubscribe: false }),
    });
    rejectUnansweredOnClose(redis);
    redis.on('error', () => undefined);
    await redis.connect();
    return redis;
  }

  /** False while the connection is down: reconnecting (or trying to connect again after it
   *  was down), or closed for good. A call now would wait in the offline queue for the daemon
   *  to come back. The first connect counts as up: it takes a moment on a local socket. */
  get up(): boolean {
    const status = this.redis.status;
    if (status === 'ready') return true;
    if (status === 'wait' || status === 'connecting' || status === 'connect') return !this.everDown;
    return false;
  }

  close(): void {
    this.redis.disconnect();
  }
}

/** SUBSCRIBE on a subscriber connection, its refusal (-ERR, -NOPERM) as a BatonError. */
export async function subscribe(redis: Redis, ...channels: string[]): Promise<void> {
  try {
    await redis.subscribe(...channels);
  } catch (error) {
    throw translated(error);
  }
}
