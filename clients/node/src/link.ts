// The one place that talks to ioredis: the shared connection most calls go through, calls that
// keep baton's error codes whole, and connections of their own for what batond ties to a
// connection (a KEEP lease, a claim, a leadership) or that wait on purpose (WAIT, BLOCK,
// ELECT JOIN), which would otherwise hold up every call queued behind them on the shared one.
import Redis, { RedisOptions } from 'ioredis';
import { errorFromReply } from './errors';

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

export class Link {
  readonly redis: Redis;
  constructor(readonly socketPath: string, readonly options: RedisOptions, redis?: Redis) {
    // No ready check: it costs an INFO per connect and batond is ready once it accepts.
    this.redis = redis ?? new Redis({ enableReadyCheck: false, ...options, path: socketPath });
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
      enableReadyCheck: false, ...this.options, path: this.socketPath, lazyConnect: true,
      retryStrategy: () => null, maxRetriesPerRequest: 0, autoResubscribe: false,
    });
    const link = new Link(this.socketPath, this.options, redis);
    await redis.connect();
    return link;
  }

  /** A connection for SUBSCRIBE. `reconnect`: follow again after a broken connection
   *  (ioredis resubscribes), for watchers that tolerate a gap; lock watchers do not. */
  async subscriber(reconnect: boolean): Promise<Redis> {
    const redis = new Redis({
      enableReadyCheck: false, ...this.options, path: this.socketPath, lazyConnect: true,
      ...(reconnect ? {} : { retryStrategy: () => null, autoResubscribe: false }),
    });
    redis.on('error', () => undefined);
    await redis.connect();
    return redis;
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
