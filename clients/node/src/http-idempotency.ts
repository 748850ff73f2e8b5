// An `Idempotency-Key` header middleware for Connect/Express, after
// draft-ietf-httpapi-idempotency-key-header, on POST and PATCH (`methods`): the first request
// with a key runs the route and its response (status, a few headers, body) is stored through
// DEDUP; a repeat gets the stored response (marked `Idempotent-Replayed: true`) without the
// route running; a repeat while the first still runs gets 409 with Retry-After; a repeat whose
// request differs (method, URL or body, compared by a SHA-256 fingerprint stored with the
// response) gets 422.
//
// Keys, as the Python middleware (baton/asgi/idempotency.py): the header, trimmed, must be 1 to
// `maxKeyLength` (255) printable ASCII characters, else 400; the DEDUP key is
// `<prefix><sha256 hex of scope "\n" path "\n" key>` (prefix `idem:`), so a key is scoped to
// the app's `scope` and the route's path, and never exceeds batond's dedup.max_key_length.
//
// Decisions: responses of 5xx (a route that throws becomes one) are not stored: the claim's
// connection closes, batond releases the claim at once, and a retry runs the route again. A
// client that goes away before its answer does not release the claim: the route runs on and
// its response is stored for the retry. The response is held until DONE is answered, so
// that a client that retries the moment it has its answer finds it stored (a streamed response
// is buffered whole). A response too large for batond (`dedup.max_result_bytes`, 64 KiB by
// default) is sent whole, and a compact record is stored instead: its status and headers
// without the body, so a repeat gets that status with an empty body and
// `Idempotency-Body-Omitted: true` (the route does not run again). A response that cannot be
// stored at all is still sent; the claim is released and a retry runs the route again. The
// fingerprint needs the body parsed before this middleware (express.json(), express.raw(),
// ...); without a parsed body it covers method and URL only.
import { createHash } from 'crypto';
import type { IncomingMessage, ServerResponse } from 'http';
import { claimFrom, completeForSure } from './dedup';
import { OtherError } from './errors';
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
  /** The methods guarded (default POST and PATCH); others pass untouched. */
  methods?: string[];
  /** Prefix of the DEDUP keys (default `idem:`). */
  prefix?: string;
  /** The longest Idempotency-Key accepted (default 255). */
  maxKeyLength?: number;
  /** Told when a response was sent but could not be stored (default: console.warn). */
  onStoreError?: (error: unknown, key: string) => void;
}

interface StoredResponse {
  status: number;
  headers: Record<string, string>;
  /** base64; absent when `bodyOmitted` */
  body?: string;
  /** The body was over dedup.max_result_bytes: a repeat gets the status, no body. */
  bodyOmitted?: boolean;
  fingerprint: string;
}

type RequestWithBody = IncomingMessage & { body?: unknown; originalUrl?: string };

const PRINTABLE = /^[\x20-\x7e]+$/;

/** The DEDUP key for an Idempotency-Key, as the Python middleware composes it. */
export function dedupKeyOf(prefix: string, scope: string, path: string, key: string): string {
  return prefix + createHash('sha256').update([scope, path, key].join('\n')).digest('hex');
}

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
  if (stored.bodyOmitted) {
    res.setHeader('Idempotency-Body-Omitted', 'true');
    res.setHeader('Content-Length', '0');
    res.end();
    return;
  }
  res.end(Buffer.from(stored.body ?? '', 'base64'));
}

/** DONE refused the result for its size (ERR ... (dedup.max_result_bytes)). */
function tooLarge(error: unknown): boolean {
  return error instanceof OtherError && error.message.includes('dedup.max_result_bytes');
}

type Chunk = string | Buffer | Uint8Array;

function asBuffer(chunk: unknown, encoding: unknown): Buffer | null {
  if (typeof chunk === 'string') {
    return Buffer.from(chunk, typeof encoding === 'string' ? (encoding as BufferEncoding) : 'utf8');
  }
  if (chunk instanceof Uint8Array) return Buffer.from(chunk);
  return null;
}

/** Holds every write until `end`, then lets `beforeEnd` store the whole response first; the
 *  response is sent whether or not that succeeded. */
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
    const send = () => {
      end(body);
      if (done) (done as () => void)();
    };
    // Stored or not, the route ran: its answer goes to the client (not storing it only means
    // that a retry runs the route again, which destroying the answer would make certain).
    beforeEnd(body).then(send, send);
    return res;
  }) as ServerResponse['end'];
}

export function idempotency<Req extends RequestWithBody = RequestWithBody>(
    link: Link, options: IdempotencyOptions<Req> = {}) {
  const kept = (options.storedHeaders ?? ['content-type', 'location', 'cache-control'])
    .map((name) => name.toLowerCase());
  const ttlMs = options.ttlMs ?? 60_000;
  const methods = new Set((options.methods ?? ['POST', 'PATCH']).map((m) => m.toUpperCase()));
  const prefix = options.prefix ?? 'idem:';
  const maxKeyLength = options.maxKeyLength ?? 255;
  const onStoreError = options.onStoreError ?? ((error: unknown, key: string) => {
    console.warn(`baton: the response to Idempotency-Key ${JSON.stringify(key)} was sent but not stored: ` +
                 String(error));
  });
  return (req: Req, res: ServerResponse, next: (error?: unknown) => void): void => {
    if (!methods.has((req.method ?? '').toUpperCase())) return next();
    const header = req.headers['idempotency-key'];
    const raw = Array.isArray(header) ? header[0] : header;
    if (raw === undefined) {
      if (options.required) return answer(res, 400, 'Idempotency-Key header required');
      return next();
    }
    const key = raw.trim();
    if (key.length === 0 || key.length > maxKeyLength || !PRINTABLE.test(key)) {
      return answer(res, 400, `the Idempotency-Key header must be 1 to ${maxKeyLength} printable ASCII characters`);
    }
    const path = (req.originalUrl ?? req.url ?? '').split('?')[0];
    const dedupKey = dedupKeyOf(prefix, options.scope ? options.scope(req) : '', path, key);
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
            const whole: StoredResponse = {
              status: res.statusCode, headers, body: body.toString('base64'), fingerprint,
            };
            try {
              await completeForSure(claimer, dedupKey, JSON.stringify(whole), options.resultTtlMs);
            } catch (error) {
              if (!tooLarge(error)) throw error;
              // Over dedup.max_result_bytes: keep what a repeat needs to know the outcome.
              const withoutType = { ...headers };
              delete withoutType['content-type'];
              const compact: StoredResponse = {
                status: res.statusCode, headers: withoutType, bodyOmitted: true, fingerprint,
              };
              await completeForSure(claimer, dedupKey, JSON.stringify(compact), options.resultTtlMs);
            }
          } catch (error) {
            onStoreError(error, key);
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
