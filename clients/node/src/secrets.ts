// Secrets: SECRET GET and VERIFY, answered from batond's memory (protocol/API.md, "Secrets"),
// and a watcher that keeps the current value in this process and calls back on rotation.
// batond pushes rotations only to SECRET WATCH, as RESP3 pushes (or RESP2 watch-mode arrays);
// ioredis speaks RESP2 and hands over only pub/sub messages, and `SUBSCRIBE` offers no secret
// channel, so the watcher polls SECRET GET instead. A poll is answered from the daemon's
// memory (no Redis round trip), and the daemon itself reloads at once on every promotion, so
// a watcher lags a rotation by at most its interval.
import { Link } from './link';
import { asFields, flagField, intField, optionalText, textField } from './replies';

/** The current version. `degraded`: Redis is unreachable and this is the cached value. */
export interface Secret {
  value: string;
  version: number;
  state: string;
  degraded: boolean;
}

/** On a match, `version` and `state` ("current", or "previous" within its grace window) say
 *  which version matched; without one both are null. */
export interface Verification {
  match: boolean;
  version: number | null;
  state: string | null;
  degraded: boolean;
}

export function secretFrom(reply: unknown): Secret | null {
  if (reply === null) return null;
  const fields = asFields(reply);
  return {
    value: textField(fields, 'value'), version: intField(fields, 'version'),
    state: textField(fields, 'state'), degraded: flagField(fields, 'degraded'),
  };
}

export interface WatchOptions {
  /** How often to ask. Default 1000 ms. */
  intervalMs?: number;
  /** A poll that failed (batond away, UNAVAILABLE): the last value stays current. */
  onError?: (error: unknown) => void;
}

/** Keeps the current value of one secret; `onRotate` hears each new version (and the first,
 *  null when the secret does not exist, or once it is gone). */
export class SecretWatcher {
  private timer: NodeJS.Timeout | undefined;
  private latest: Secret | null = null;
  private closed = false;

  constructor(private readonly calls: SecretCalls, readonly name: string,
              private readonly onRotate: (secret: Secret | null) => void,
              private readonly options: WatchOptions) {}

  /** The value as last read (null before the first read or while there is no secret). */
  get current(): Secret | null {
    return this.latest;
  }

  /** Reads once (so `current` is set when it resolves), then polls. */
  async start(): Promise<this> {
    await this.poll(true);
    this.schedule();
    return this;
  }

  private schedule(): void {
    if (this.closed) return;
    this.timer = setTimeout(() => {
      this.poll(false).catch((error: unknown) => this.options.onError?.(error)).finally(() => this.schedule());
    }, this.options.intervalMs ?? 1000);
    this.timer.unref();
  }

  private async poll(first: boolean): Promise<void> {
    const now = await this.calls.get(this.name);
    const changed = first || (now?.version ?? null) !== (this.latest?.version ?? null) ||
      now?.value !== this.latest?.value;
    this.latest = now;
    if (changed && !this.closed) this.onRotate(now);
  }

  close(): void {
    this.closed = true;
    clearTimeout(this.timer);
  }
}

export class SecretCalls {
  constructor(private readonly link: Link) {}

  /** SECRET GET: null when there is no such secret. Unavailable when Redis is unreachable and
   *  it was never loaded here; OtherError when secrets are off or it cannot be decrypted. */
  get(name: string): Promise<Secret | null> {
    return this.link.call('SECRET', 'GET', name).then(secretFrom);
  }

  /** SECRET VERIFY. Unavailable is neither a match nor a mismatch: the candidate may be a
   *  version newer than this daemon has seen. */
  async verify(name: string, candidate: string | Buffer): Promise<Verification> {
    const reply = await this.link.call('SECRET', 'VERIFY', name, candidate);
    if (reply === null) return { match: false, version: null, state: null, degraded: false };
    const fields = asFields(reply);
    const match = flagField(fields, 'match');
    return {
      match, version: match ? intField(fields, 'version') : null,
      state: match ? optionalText(fields, 'state') : null, degraded: flagField(fields, 'degraded'),
    };
  }

  /** A watcher of `name`, started: `current` is set when this resolves. */
  async watch(name: string, onRotate: (secret: Secret | null) => void,
              options: WatchOptions = {}): Promise<SecretWatcher> {
    return new SecretWatcher(this, name, onRotate, options).start();
  }
}
