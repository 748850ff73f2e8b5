// Idempotency keys (protocol/API.md, "Idempotency keys"): DEDUP CLAIM, DONE and GET, and
// `once`, which runs a piece of work once across the fleet and gives its stored result to
// every repeat. A claim belongs to the connection that made it: closing that connection
// before DONE releases it at once, so a retry can run the work again. The Express middleware
// built on the same claims is in http-idempotency.ts.
import { Unavailable, UnexpectedReply, Unknown } from './errors';
import { Link } from './link';
import { asFields, expectOk, intField, optionalText, textField } from './replies';

/** `new`: this caller is first and does the work; `pending`: another caller works on it, for
 *  at most `ttlMs` more; `done`: finished, `result` holds what DONE stored and `ttlMs` how
 *  long it is kept. `result` is null unless done. */
export interface Claim {
  status: 'new' | 'pending' | 'done';
  result: string | null;
  ttlMs: number;
}

/** once() found the work being done by another caller and was not asked to wait for it (or
 *  waited `waitMs` in vain). Not a BatonError: batond refused nothing. */
export class InProgress extends Error {
  constructor(readonly key: string, readonly ttlMs: number) {
    super(`the work of idempotency key ${key} is being done by another caller ` +
          `(its claim lasts at most ${ttlMs} ms more)`);
    this.name = 'InProgress';
  }
}

export function claimFrom(reply: unknown): Claim {
  const fields = asFields(reply);
  const status = textField(fields, 'status');
  if (status !== 'new' && status !== 'pending' && status !== 'done') {
    throw new UnexpectedReply(`unknown DEDUP status ${status}`);
  }
  return { status, result: optionalText(fields, 'result'), ttlMs: intField(fields, 'ttl_ms') };
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** DONE, sent again while batond answers Unknown or Unavailable (the same DONE again is safe,
 *  and the claim stays ours while its connection stays open), for up to `giveUpMs`: giving up
 *  early would close the claim's connection and let another caller run the work again. */
export async function completeForSure(link: Link, key: string, result: string,
                                      ttlMs: number | undefined, giveUpMs = 30_000): Promise<void> {
  const deadline = performance.now() + giveUpMs;
  let pause = 50;
  for (;;) {
    try {
      const args = ttlMs === undefined ? [key, result] : [key, result, ttlMs];
      expectOk(await link.call('DEDUP', 'DONE', ...args));
      return;
    } catch (error) {
      if (!(error instanceof Unknown || error instanceof Unavailable) ||
          performance.now() + pause > deadline) throw error;
      await sleep(pause);
      pause = Math.min(pause * 2, 1000);
    }
  }
}

export interface OnceOptions {
  /** How long the claim lasts (the work should end within it). Default 60 s. */
  ttlMs?: number;
  /** How long the stored result is kept (batond's default: dedup.result_ttl_ms, 24 h). */
  resultTtlMs?: number;
  /** A repeat that finds the work running waits this long for its result (polling every
   *  `pollMs`), then throws InProgress. Default 0: throw at once. */
  waitMs?: number;
  pollMs?: number;
}

export class DedupCalls {
  constructor(private readonly link: Link) {}

  /** DEDUP CLAIM on the shared connection: the claim lasts until DONE or `ttlMs` (the shared
   *  connection stays open); `once` claims on a connection of its own instead. */
  async claim(key: string, ttlMs: number): Promise<Claim> {
    return claimFrom(await this.link.call('DEDUP', 'CLAIM', key, ttlMs));
  }

  /** DEDUP DONE. NotHeld when no claim of this daemon is on the key or it is done with
   *  another result; Unknown when it may or may not be stored (send the same again). */
  async complete(key: string, result: string, ttlMs?: number): Promise<void> {
    const args = ttlMs === undefined ? [key, result] : [key, result, ttlMs];
    expectOk(await this.link.call('DEDUP', 'DONE', ...args));
  }

  /** DEDUP GET: null when nobody claimed the key. */
  async get(key: string): Promise<Claim | null> {
    const reply = await this.link.call('DEDUP', 'GET', key);
    return reply === null ? null : claimFrom(reply);
  }

  /** Runs `work` once across the fleet for `key`; every caller, the first included, gets the
   *  stored result (JSON: what JSON.stringify keeps of it). If `work` throws, the claim's
   *  connection is closed, the claim is released at once and the error propagates, so a retry
   *  runs the work again. A repeat during the run: see `waitMs`. */
  async once<T>(key: string, work: () => Promise<T> | T, options: OnceOptions = {}): Promise<T> {
    const deadline = performance.now() + (options.waitMs ?? 0);
    const claimer = await this.link.dedicated();
    try {
      for (;;) {
        const claim = claimFrom(await claimer.call('DEDUP', 'CLAIM', key, options.ttlMs ?? 60_000));
        if (claim.status === 'done') return JSON.parse(claim.result ?? 'null') as T;
        if (claim.status === 'new') {
          const stored = JSON.stringify(await work()) ?? 'null';
          await completeForSure(claimer, key, stored, options.resultTtlMs);
          return JSON.parse(stored) as T;
        }
        const left = deadline - performance.now();
        if (left <= 0) throw new InProgress(key, claim.ttlMs);
        await sleep(Math.min(options.pollMs ?? 50, left));
      }
    } finally {
      claimer.close();
    }
  }
}
