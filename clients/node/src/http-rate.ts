// Rate limiting at the HTTP edge: a Connect/Express middleware and a wrapper for handlers of
// the web Request/Response types (Next.js route handlers on the Node runtime). Both answer a
// refusal with 429 and Retry-After, and every answer with the RateLimit fields of
// draft-ietf-httpapi-ratelimit-headers-10 (`RateLimit: "<policy>";r=<remaining>;t=<s>`, and
// `RateLimit-Policy: "<policy>";q=<limit>;w=<s>` when the app tells the limit) plus the
// separate RateLimit-Limit/-Remaining/-Reset fields of draft -06, which most clients in use
// still read. batond's reply has no limit (a policy may have several windows), so the limit
// fields are sent only when the app passes `limit` (and `windowSeconds`).
import type { IncomingMessage, ServerResponse } from 'http';
import { RateCalls, RateDecision } from './rate';

export interface RateLimitOptions<Req> {
  policy: string;
  /** The key to count under: a user id, an API key, an address. */
  key: (req: Req) => string;
  cost?: number | ((req: Req) => number);
  /** The tightest window's limit and length, only to advertise them (draft fields). */
  limit?: number;
  windowSeconds?: number;
  /** batond unreachable (not a policy's failure mode, which batond applies itself): true lets
   *  the request through, false (default) hands the error on (Express: `next(err)`; the web
   *  wrapper: a 503). */
  failOpen?: boolean;
}

/** The header fields for a decision, in the order they are set. */
export function rateLimitHeaders(policy: string, decision: RateDecision,
                                 options: { limit?: number; windowSeconds?: number }): [string, string][] {
  const resetSeconds = Math.ceil(decision.resetMs / 1000);
  const headers: [string, string][] = [
    ['RateLimit', `"${policy}";r=${decision.remaining};t=${resetSeconds}`],
    ['RateLimit-Remaining', String(decision.remaining)],
    ['RateLimit-Reset', String(resetSeconds)],
  ];
  if (options.limit !== undefined) {
    headers.push(['RateLimit-Limit', String(options.limit)]);
    const window = options.windowSeconds === undefined ? '' : `;w=${options.windowSeconds}`;
    headers.push(['RateLimit-Policy', `"${policy}";q=${options.limit}${window}`]);
  }
  if (!decision.allowed) {
    headers.push(['Retry-After', String(Math.max(1, Math.ceil(decision.retryAfterMs / 1000)))]);
  }
  return headers;
}

function costOf<Req>(options: RateLimitOptions<Req>, req: Req): number | undefined {
  return typeof options.cost === 'function' ? options.cost(req) : options.cost;
}

/** Connect-style middleware (Express, Connect, anything passing Node's req/res/next). */
export function rateLimit<Req extends IncomingMessage = IncomingMessage>(
    rate: RateCalls, options: RateLimitOptions<Req>) {
  return (req: Req, res: ServerResponse, next: (error?: unknown) => void): void => {
    rate.check(options.policy, options.key(req), { cost: costOf(options, req) }).then((decision) => {
      for (const [name, value] of rateLimitHeaders(options.policy, decision, options)) {
        res.setHeader(name, value);
      }
      if (decision.allowed) return next();
      res.statusCode = 429;
      res.setHeader('Content-Type', 'text/plain; charset=utf-8');
      res.end('Too Many Requests\n');
    }, (error: unknown) => (options.failOpen ? next() : next(error)));
  };
}

type WebHandler<Ctx extends unknown[]> = (req: Request, ...context: Ctx) => Response | Promise<Response>;

/** Wraps a handler of web Requests (a Next.js route handler on the Node runtime) so that it
 *  runs only when the policy admits the request; its Response gets the RateLimit fields. */
export function withRateLimit<Ctx extends unknown[]>(rate: RateCalls, handler: WebHandler<Ctx>,
                                                     options: RateLimitOptions<Request>): WebHandler<Ctx> {
  return async (req: Request, ...context: Ctx): Promise<Response> => {
    let decision: RateDecision;
    try {
      decision = await rate.check(options.policy, options.key(req), { cost: costOf(options, req) });
    } catch {
      if (options.failOpen) return handler(req, ...context);
      return new Response('Service Unavailable\n', { status: 503 });
    }
    const fields = rateLimitHeaders(options.policy, decision, options);
    if (!decision.allowed) {
      return new Response('Too Many Requests\n', {
        status: 429, headers: [...fields, ['Content-Type', 'text/plain; charset=utf-8']],
      });
    }
    const response = await handler(req, ...context);
    // A Response's headers may be immutable (one from fetch()): answer a copy.
    const headers = new Headers(response.headers);
    for (const [name, value] of fields) headers.set(name, value);
    return new Response(response.body, {
      status: response.status, statusText: response.statusText, headers,
    });
  };
}
