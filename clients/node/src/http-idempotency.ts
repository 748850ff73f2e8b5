// An `Idempotency-Key` header middleware for Connect/Express, after
// draft-ietf-httpapi-idempotency-key-header: the first request with a key runs the route and
// its response (status, a few headers, body) is stored through DEDUP; a repeat gets the stored
// response (marked `Idempotent-Replayed: true`) without the route running; a repeat while the
// first still runs gets 409 with Retry-After; a repeat whose request differs (method, URL or
// body, compared by a SHA-256 fingerprint stored with the response) gets 422.
//
// Decisions: responses of 5xx (a route that throws becomes one) are not stored: the claim's
// connection closes, batond releases the claim at once, and a retry runs the route again. A
// client that goes away before its answer does not release the claim: the route runs on and
// its response is stored for the retry. The response is held until DONE is answered, so
// that a client that retries the moment it has its answer finds it stored (a streamed response
// is buffered whole). The fingerprint needs the body parsed before this middleware
// (express.json(), express.raw(), ...); without a parsed body it covers method and URL only.
import { createHash } from 'crypto';
import type { IncomingMessage, ServerResponse } from 'http';
import { claimFrom, completeForSure } from './dedup';
import { Link } from './link';

export interface IdempotencyOptions<Req> {
  /** Added to the key, so that two users' keys never meet (a user or tenant id). */
  scope?: (req: Req) => string;
  /** How long a run may take before a repeat may run it again. Default 60 s. */
  ttlMs?: number;
  /** How long the stored response is kept (batond's default 24 h). */
  resultTtlMs?: number;
  /** Answer 400 to a request without the header (default: let it through unguarded). */
  required?: boolean;
  /** Response headers stored and replayed besides the body. */
  storedHeaders?: string[];
}

interface StoredResponse {
  status: number;
  headers: Record<string, string>;
  body: string; // base64
  fingerprint: string;
}

type RequestWithBody = IncomingMessage & { body?: unknown; originalUrl?: string };

export function fingerprintOf(req: RequestWithBody): string {
  const hash = createHash('sha256').update(`${req.method} ${req.originalUrl ?? req.url}\n`);
  const body = req.body;
  if (Buffer.isBuffer(body) || typeof body === 'string') hash.update(body);
  else if (body !== undefined) hash.update(JSON.stringify(body));
  return hash.digest('hex');
}

function answer(res: ServerResponse, status: number, text: string, retryAfter?: number): void {
  res.statusCode = status;
  if (retryAfter !== undefined) res.setHeader('Retry-After', String(retryAfter));
  res.setHeader('Content-Type', 'text/plain; charset=utf-8');
  res.end(text + '\n');
}

function replay(res: ServerResponse, stored: StoredResponse): void {
  res.statusCode = stored.status;
  for (const [name, value] of Object.entries(stored.headers)) res.setHeader(name, value);
  res.setHeader('Idempotent-Replayed', 'true');
  res.end(Buffer.from(stored.body, 'base64'));
}

type Chunk = string | Buffer | Uint8Array;

function asBuffer(chunk: unknown, encoding: unknown): Buffer | null {
  if (typeof chunk === 'string') {
    return Buffer.from(chunk, typeof encoding === 'string' ? (encoding as BufferEncoding) : 'utf8');
  }
  if (chunk instanceof Uint8Array) return Buffer.from(chunk);
  return null;
}

/** Holds every write until `end`, then lets `beforeEnd` store the whole response first. */
function holdResponse(res: ServerResponse,
                      beforeEnd: (body: Buffer) => Promise<void>): void {
  const chunks: Buffer[] = [];
  const end = res.end.bind(res) as (chunk?: Chunk) => ServerResponse;
  res.write = ((chunk: unknown, encoding?: unknown, callback?: unknown): boolean => {
    const buffer = asBuffer(chunk, encoding);
    if (buffer) chunks.push(buffer);
    const done = typeof encoding === 'function' ? encoding : callback;
    if (typeof done === 'function') process.nextTick(done as () => void);
    return true;
  }) as ServerResponse['write'];
  res.end = ((chunk?: unknown, encoding?: unknown, callback?: unknown): ServerResponse => {
    const buffer = typeof chunk === 'function' ? null : asBuffer(chunk, encoding);
    if (buffer) chunks.push(buffer);
    const done = [chunk, encoding, callback].find((x) => typeof x === 'function');
    const body = Buffer.concat(chunks);
    beforeEnd(body).then(() => {
      end(body);
      if (done) (done as () => void)();
    }, () => {
      // The response could not be stored: the client gets no answer it could not get again.
      res.destroy();
    });
    return res;
  }) as ServerResponse['end'];
}

export function idempotency<Req extends RequestWithBody = RequestWithBody>(
    link: Link, options: IdempotencyOptions<Req> = {}) {
  const kept = (options.storedHeaders ?? ['content-type', 'location', 'cache-control'])
    .map((name) => name.toLowerCase());
  const ttlMs = options.ttlMs ?? 60_000;
  return (req: Req, res: ServerResponse, next: (error?: unknown) => void): void => {
    const header = req.headers['idempotency-key'];
    const key = Array.isArray(header) ? header[0] : header;
    if (!key) {
      if (options.required) return answer(res, 400, 'Idempotency-Key header required');
      return next();
    }
    const dedupKey = `http:${options.scope ? options.scope(req) + ':' : ''}${key}`;
    const fingerprint = fingerprintOf(req);
    run().catch(next);

    async function run(): Promise<void> {
      const claimer = await link.dedicated();
      let handedOver = false;
      try {
        const claim = claimFrom(await claimer.call('DEDUP', 'CLAIM', dedupKey, ttlMs));
        if (claim.status === 'pending') {
          return answer(res, 409, 'a request with this Idempotency-Key is in progress', 1);
        }
        if (claim.status === 'done') {
          const stored = JSON.parse(claim.result ?? '{}') as StoredResponse;
          if (stored.fingerprint !== fingerprint) {
            return answer(res, 422, 'this Idempotency-Key was used with another request');
          }
          return replay(res, stored);
        }
        // New: the route runs; the claim's connection lives until the response is stored or
        // given up (closing it releases the claim). A client that goes away meanwhile does
        // not end it: the work runs on, and its retry should get what it did, not run it
        // twice. A route that never answers gives the claim up when it would lapse anyway.
        handedOver = true;
        const lapse = setTimeout(() => claimer.close(), ttlMs);
        lapse.unref();
        holdResponse(res, async (body) => {
          try {
            if (res.statusCode >= 500) return;
            const headers: Record<string, string> = {};
            for (const name of kept) {
              const value = res.getHeader(name);
              if (value !== undefined) headers[name] = String(value);
            }
            const stored: StoredResponse = {
              status: res.statusCode, headers, body: body.toString('base64'), fingerprint,
            };
            await completeForSure(claimer, dedupKey, JSON.stringify(stored), options.resultTtlMs);
          } finally {
            clearTimeout(lapse);
            claimer.close();
          }
        });
        next();
      } finally {
        if (!handedOver) claimer.close();
      }
    }
  };
}
