// Leases: named locks with a time to live and a fencing token that grows with every grant
// (protocol/API.md, "Leases"). batond ties a lease to the connection that acquired it:
// closing that connection releases it, and a KEEP lease is renewed by batond while it stays
// open. `withLock` (lock.ts) is the helper most apps want; these are the plain calls.
import { Arg, Link } from './link';
import { asFields, expectOk, intField, optionalText, textField } from './replies';

/** A grant. `validUntil` is `validityMs` counted on this process's monotonic clock
 *  (performance.now()) from before the request was sent, so it is never later than the
 *  validity batond measured from when it sent the request on to Redis. */
export interface Lease {
  name: string;
  token: number;
  validityMs: number;
  validUntil: number;
}

/** LEASE INFO: `node`, `client` and `meta` are empty unless the caller is the holder's uid
 *  or an admin. */
export interface LeaseInfo {
  state: 'held' | 'lock-delay';
  token: number;
  remainingMs: number;
  node: string;
  client: string;
  meta: string;
}

export interface AcquireOptions {
  /** batond renews it every ttl/3 while the acquiring connection stays open. */
  keep?: boolean;
  /** Queue up to this long for the lease to be free (DENIED after). */
  waitMs?: number;
  /** Up to 4 KiB shown by LEASE INFO to the holder's uid and admins. */
  meta?: string;
}

export function acquireArgs(name: string, ttlMs: number, options: AcquireOptions): Arg[] {
  const args: Arg[] = ['ACQUIRE', name, ttlMs];
  if (options.waitMs !== undefined) args.push('WAIT', options.waitMs);
  if (options.keep) args.push('KEEP');
  if (options.meta !== undefined) args.push('META', options.meta);
  return args;
}

function leaseFrom(name: string, reply: unknown, sentAt: number): Lease {
  const fields = asFields(reply);
  const validityMs = intField(fields, 'validity_ms');
  return { name, token: intField(fields, 'token'), validityMs, validUntil: sentAt + validityMs };
}

export async function acquireOn(link: Link, name: string, ttlMs: number,
                                options: AcquireOptions = {}): Promise<Lease> {
  const sentAt = performance.now();
  return leaseFrom(name, await link.call('LEASE', ...acquireArgs(name, ttlMs, options)), sentAt);
}

export async function releaseOn(link: Link, name: string, token: number): Promise<void> {
  expectOk(await link.call('LEASE', 'RELEASE', name, token));
}

export class LeaseCalls {
  constructor(private readonly link: Link) {}

  /** LEASE ACQUIRE on the shared connection: the lease is that connection's, released by
   *  `Baton.close()` at the latest. Denied when another holds it. With `waitMs`, every call
   *  queued behind it on the shared connection waits too: to wait, prefer `withLock`, which
   *  takes a connection of its own. */
  async acquire(name: string, ttlMs: number, options: AcquireOptions = {}): Promise<Lease> {
    return acquireOn(this.link, name, ttlMs, options);
  }

  /** LEASE RENEW: extends, never shortens. Lost once it lapsed or is another's. */
  async renew(name: string, token: number, ttlMs?: number): Promise<Lease> {
    const args: Arg[] = ['RENEW', name, token];
    if (ttlMs !== undefined) args.push(ttlMs);
    const sentAt = performance.now();
    return leaseFrom(name, await this.link.call('LEASE', ...args), sentAt);
  }

  /** LEASE RELEASE. NotHeld (not held under that token) or Lost (it had lapsed). */
  async release(name: string, token: number): Promise<void> {
    await releaseOn(this.link, name, token);
  }

  /** LEASE INFO: null when the lease is free. */
  async info(name: string): Promise<LeaseInfo | null> {
    const reply = await this.link.call('LEASE', 'INFO', name);
    if (reply === null) return null;
    const fields = asFields(reply);
    return {
      state: textField(fields, 'state') as LeaseInfo['state'],
      token: intField(fields, 'token'),
      remainingMs: intField(fields, 'remaining_ms'),
      node: optionalText(fields, 'node') ?? '',
      client: optionalText(fields, 'client') ?? '',
      meta: optionalText(fields, 'meta') ?? '',
    };
  }
}
