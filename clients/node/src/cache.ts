// The near cache (protocol/API.md, "Near cache"): entries kept in Redis and in each daemon's
// memory, every write and delete invalidating every daemon's copy.
import { Arg, Link } from './link';
import { asFields, asInt, expectOk, flagField, intField, textField } from './replies';

/** `source` "near" (the daemon's memory) or "redis"; `degraded`: Redis could not be asked. */
export interface CacheEntry {
  value: string;
  ttlMs: number;
  source: string;
  degraded: boolean;
}

export class CacheCalls {
  constructor(private readonly link: Link) {}

  /** CACHE GET: null on a miss. */
  async get(namespace: string, key: string): Promise<CacheEntry | null> {
    const reply = await this.link.call('CACHE', 'GET', namespace, key);
    if (reply === null) return null;
    const fields = asFields(reply);
    return {
      value: textField(fields, 'value'), ttlMs: intField(fields, 'ttl_ms'),
      source: textField(fields, 'source'), degraded: flagField(fields, 'degraded'),
    };
  }

  /** CACHE SET (without `ttlMs`, the namespace's); every daemon drops its copy. */
  async set(namespace: string, key: string, value: string | Buffer, options: { ttlMs?: number } = {}): Promise<void> {
    const args: Arg[] = ['SET', namespace, key, value];
    if (options.ttlMs !== undefined) args.push('TTL', options.ttlMs);
    expectOk(await this.link.call('CACHE', ...args));
  }

  /** CACHE DEL: true when the key was in Redis. */
  async delete(namespace: string, key: string): Promise<boolean> {
    return asInt(await this.link.call('CACHE', 'DEL', namespace, key)) === 1;
  }
}
