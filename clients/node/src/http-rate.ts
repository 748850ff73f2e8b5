// Rate limiting at the HTTP edge: a Connect/Express middleware and a wrapper for handlers of
// the web Request/Response types (Next.js route handlers on the Node runtime). Both answer a
// refusal with 429 and Retry-After, and every answer with the four fields of
// draft-ietf-httpapi-ratelimit-headers-06 (the last draft with one field per value, before -07
// merged them into `RateLimit`), as the Python library does: `RateLimit-Limit`,
// `RateLimit-Remaining`, `RateLimit-Reset` (seconds, rounded up) and `RateLimit-Policy`
// (`<limit>;w=<seconds>`). batond's reply has no limit (a policy may have several windows), so
// RateLimit-Limit is sent only when the app passes `limit`, and RateLimit-Policy only when it
// passes `limit` and `windowSeconds`.
import type { IncomingMessage, ServerResponse } from 'http';
import { BatonError, Unavailable, UnexpectedReply } from './errors';
import { RateCalls, RateDecision } from './rate';

export interface RateLimitOptions<Req> {
  policy: string;
  /** The key to count under: a user id, an API key, an address. */
  key: (req: Req) => string;
  cost?: number | ((req: Req) => number);
  /** The tightest window's limit and length, only to advertise them (RateLimit-Limit, and
   *  RateLimit-Policy when both are given). */
  limit?: number;
  windowSeconds?: number;
  /** batond itself unreachable (no answer, the connection down, or Unavailable): true (the
   *  default, as the Python library's `fail_open=True`) lets the request through without the
   *  fields; false answers 503 with Retry-After: 1. A policy's own failure mode (`open`,
   *  `closed`, `local`: Redis slow or away) is applied by batond and answers normally. Other
   *  errors (an unknown policy: ERR) are the app's to see: Express `next(err)`, the web
   *  wrapper throws. */
  failOpen?: boolean;
  /** Told when a request was let through (or refused with 503) because batond was
   *  unreachable. Default: console.warn. */
  onUnreachable?: (error: unknown) => void;
}

/** The -06 header fields for a decision, in the order they are set. */
export function rateLimitHeaders(decision: RateDecision,
                                 options: { limit?: number; windowSeconds?: number } = {}): [string, string][] {
  const headers: [string, string][] = [];
  if (options.limit !== undefined) headers.push(['RateLimit-Limit', String(options.limit)]);
  headers.push(['RateLimit-Remaining', String(Math.max(0, decision.remaining))]);
  headers.push(['RateLimit-Reset', String(Math.ceil(decision.resetMs / 1000))]);
  if (options.limit !== undefined && options.windowSeconds !== undefined) {
    headers.push(['RateLimit-Policy', `${options.limit};w=${options.windowSeconds}`]);
  }
  if (!decision.allowed) {
    headers.push(['Retry-After', String(Math.max(1, Math.ceil(decision.retryAfterMs / 1000)))]);
  }
  return headers;
}

/** No answer from batond: the connection is down or broke (ioredis' errors, ConnectionClosed,
 *  a connect error), or batond said UNAVAILABLE. An error reply (ERR, NOPERM), a reply of a
 *  shape we do not know, or a bug (TypeError, ...) is not that. */
export function isNoAnswer(error: unknown): boolean {
  if (error instanceof Unavailable) return true;
  return !(error instanceof BatonError || error instanceof UnexpectedReply ||
           error instanceof TypeError || error instanceof RangeError ||
           error instanceof ReferenceError || error instanceof SyntaxError);
}

class BatondUnreachable extends Error {
  constructor() {
    super('the connection to batond is down (reconnecting)');
    this.name = 'BatondUnreachable';
  }
}

function costOf<Req>(options: RateLimitOptions<Req>, req: Req): number | undefined {
  return typeof options.cost === 'function' ? options.cost(req) : options.cost;
}

function warnUnreachable(policy: string, failOpen: boolean) {
  return (error: unknown): void => {
    console.warn(`baton: rate policy ${policy} not checked, request ${failOpen ? 'let through' : 'refused with 503'}: ` +
                 String(error));
  };
}

/** RATE CHECK, or at once a rejection when the connection is down: while ioredis reconnects a
 *  call would wait in its offline queue, and a request should not wait for the daemon. */
function checkNow(rate: RateCalls, policy: string, key: string, cost: number | undefined): Promise<RateDecision> {
  if (!rate.reachable) return Promise.reject(new BatondUnreachable());
  return rate.check(policy, key, { cost });
}

/** Connect-style middleware (Express, Connect, anything passing Node's req/res/next). */
export function rateLimit<Req extends IncomingMessage = IncomingMessage>(
    rate: RateCalls, options: RateLimitOptions<Req>) {
  const failOpen = options.failOpen ?? true;
  const onUnreachable = options.onUnreachable ?? warnUnreachable(options.policy, failOpen);
  return (req: Req, res: ServerResponse, next: (error?: unknown) => void): void => {
    // The app's key and cost functions run first: their errors are theirs (Express: next(err)).
    checkNow(rate, options.policy, options.key(req), costOf(options, req)).then((decision) => {
      for (const [name, value] of rateLimitHeaders(decision, options)) res.setHeader(name, value);
      if (decision.allowed) return next();
      res.statusCode = 429;
      res.setHeader('Content-Type', 'text/plain; charset=utf-8');
      res.end('Too Many Requests\n');
    }, (error: unknown) => {
      if (!isNoAnswer(error)) return next(error);
      onUnreachable(error);
      if (failOpen) return next();
      res.statusCode = 503;
      res.setHeader('Retry-After', '1');
      res.setHeader('Content-Type', 'text/plain; charset=utf-8');
      res.end('Service Unavailable\n');
    });
  };
}

type WebHandler<Ctx extends unknown[]> = (req: Request, ...context: Ctx) => Response | Promise<Response>;

/** Wraps a handler of web Requests (a Next.js route handler on the Node runtime) so that it
 *  runs only when the policy admits the request; its Response gets the RateLimit fields. */
export function withRateLimit<Ctx extends unknown[]>(rate: RateCalls, handler: WebHandler<Ctx>,
                                                     options: RateLimitOptions<Request>): WebHandler<Ctx> {
  const failOpen = options.failOpen ?? true;
  const onUnreachable = options.onUnreachable ?? warnUnreachable(options.policy, failOpen);
  return async (req: Request, ...context: Ctx): Promise<Response> => {
    const key = options.key(req);
    const cost = costOf(options, req);
    let decision: RateDecision;
    try {
      decision = await checkNow(rate, options.policy, key, cost);
    } catch (error) {
      if (!isNoAnswer(error)) throw error;
      onUnreachable(error);
      if (failOpen) return handler(req, ...context);
      return new Response('Service Unavailable\n', {
        status: 503, headers: { 'Retry-After': '1', 'Content-Type': 'text/plain; charset=utf-8' },
      });
    }
    const fields = rateLimitHeaders(decision, options);
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
