// Rate limits: RATE CHECK and PEEK against the policies named in batond's config
// (protocol/API.md, "Rate limits"). Every window of a policy is checked and charged at once,
// and nothing is charged when one refuses. HTTP helpers are in http-rate.ts.
import { Link } from './link';
import { asFields, flagField, intField, textField } from './replies';

/** `allowed` is what to do; `limited` differs from it only for a shadow policy. `remaining`
 *  and `resetMs` are the tightest window's; `retryAfterMs` is when the same request would be
 *  admitted (0 if it was). `degraded`: Redis did not answer in time and the policy's failure
 *  mode decided; `source`: "redis", "cache", "open", "closed" or "local". */
export interface RateDecision {
  allowed: boolean;
  limited: boolean;
  remaining: number;
  resetMs: number;
  retryAfterMs: number;
  degraded: boolean;
  source: string;
}

export function decisionFrom(reply: unknown): RateDecision {
  const fields = asFields(reply);
  return {
    allowed: flagField(fields, 'allowed'),
    limited: flagField(fields, 'limited'),
    remaining: intField(fields, 'remaining'),
    resetMs: intField(fields, 'reset_ms'),
    retryAfterMs: intField(fields, 'retry_after_ms'),
    degraded: flagField(fields, 'degraded'),
    source: textField(fields, 'source'),
  };
}

export class RateCalls {
  constructor(private readonly link: Link) {}

  /** False while the shared connection is down (ioredis reconnects): a call now would wait
   *  in the offline queue until batond is back. The HTTP middlewares fail open at once. */
  get reachable(): boolean {
    return this.link.up;
  }

  /** RATE CHECK: decides and charges `cost` (default 1). An unknown policy, a bad key or a
   *  cost over the smallest limit raise OtherError (ERR). */
  check(policy: string, key: string, options?: { cost?: number }): Promise<RateDecision> {
    // The hottest call of a web app: no async wrapper, so no promise beyond ioredis' own
    // and the one that decodes the reply.
    const reply = options?.cost === undefined
      ? this.link.call('RATE', 'CHECK', policy, key)
      : this.link.call('RATE', 'CHECK', policy, key, 'COST', options.cost);
    return reply.then(decisionFrom);
  }

  /** RATE PEEK: the decision CHECK would make, charging nothing. */
  async peek(policy: string, key: string, options: { cost?: number } = {}): Promise<RateDecision> {
    return decisionFrom(await this.link.call('RATE', 'PEEK', policy, key, 'COST', options.cost ?? 1));
  }
}
