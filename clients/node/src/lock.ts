// withLock: runs a callback while a KEEP lease is held on a connection of its own, gives it
// the fencing token and an AbortSignal aborted when the lease is lost, and releases the lease
// at the end. Loss is learnt from `SUBSCRIBE lease:<name>` (protocol/API.md, "Pub/sub for
// every Redis client"): ioredis speaks RESP2 only, so batond's RESP3 `lost` push to the holder
// itself never reaches us, but the channel carries the same event.
import { Lost } from './errors';
import { Holding } from './holding';
import { acquireOn, releaseOn } from './leases';
import { Link } from './link';

export interface LockOptions {
  /** The lease's TTL; batond renews it every ttl/3 while the callback runs. Default 10 s. */
  ttlMs?: number;
  /** Queue up to this long for the lease (Denied after). Default: do not wait. */
  waitMs?: number;
  meta?: string;
}

/** `<event> <token> <node>`: the lease ended for us when batond says our token was lost,
 *  released or expired, or a newer token was granted (tokens only grow, so an event about an
 *  older one is the previous holder's, heard late). */
export function leaseEndsOurs(message: string, ours: number): string | null {
  const [event, tokenText] = message.split(' ');
  const token = Number(tokenText);
  if (token === ours && (event === 'lost' || event === 'released' || event === 'expired')) {
    return `the lease was ${event} (token ${ours})`;
  }
  if (event === 'acquired' && token > ours) return `the lease went to token ${token}`;
  return null;
}

export async function withLock<T>(link: Link, name: string,
                                  body: (token: number, signal: AbortSignal) => Promise<T>,
                                  options: LockOptions = {}): Promise<T> {
  const ttlMs = options.ttlMs ?? 10_000;
  const holding = await Holding.open(link, `lease:${name}`, leaseEndsOurs, ttlMs);
  try {
    const lease = await acquireOn(holding.holder, name, ttlMs, {
      keep: true, waitMs: options.waitMs, meta: options.meta,
    });
    holding.granted(lease.token);
    let result: T;
    try {
      result = await body(lease.token, holding.signal);
    } catch (error) {
      // Best effort: should the release fail, closing the connection below releases it.
      holding.lettingGo();
      await releaseOn(holding.holder, name, lease.token).catch(() => undefined);
      throw error;
    }
    // A body that ended normally after its lease was lost learns it here: its work ran
    // partly unguarded (the signal told it so while it ran).
    if (holding.signal.aborted) throw holding.signal.reason as Lost;
    holding.lettingGo();
    await releaseOn(holding.holder, name, lease.token);
    return result;
  } finally {
    holding.close();
  }
}
