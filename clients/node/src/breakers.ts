// Circuit breakers (protocol/API.md, "Circuit breakers"): CHECK before a call to a dependency,
// REPORT how it went. Both are answered from the daemon's memory, so `run` (check, call,
// report with the latency) costs two local round trips and no Redis one. batond decides
// slowness from the reported latency and the policy's `slow_call_ms`.
import { Link } from './link';
import { asFields, flagField, intField, textField } from './replies';

export interface BreakerCheck {
  allowed: boolean;
  /** closed, open, half-open, forced-open or forced-closed */
  state: string;
  /** Admitted as the half-open probe: report how it went. */
  probe: boolean;
  /** When it may next admit a probe; -1 when nothing is scheduled. */
  nextProbeMs: number;
  generation: number;
  degraded: boolean;
  fleet: boolean;
}

/** `run` was refused by the breaker: the dependency was not called. Not a BatonError:
 *  batond answered, and its answer was "not now". */
export class BreakerOpen extends Error {
  constructor(readonly breaker: string, readonly check: BreakerCheck) {
    super(`breaker ${breaker} is ${check.state}` +
          (check.nextProbeMs >= 0 ? ` (next probe in ${check.nextProbeMs} ms)` : ''));
    this.name = 'BreakerOpen';
  }
}

export type Outcome = 'ok' | 'fail' | 'slow';

export interface BreakerOptions {
  /** Told when `run` could not report how the call went (batond unreachable, the connection
   *  broken, an error reply); the call's own result or error is answered all the same.
   *  Default: console.warn. */
  onReportError?: (error: unknown, breaker: string) => void;
}

export interface RunOptions extends BreakerOptions {
  /** Which errors count as the dependency failing (default: all). Others are reported ok. */
  isFailure?: (error: unknown) => boolean;
}

function warnReportError(error: unknown, breaker: string): void {
  console.warn(`baton: breaker ${breaker}: the call's outcome was not reported: ${String(error)}`);
}

export class Breaker {
  constructor(private readonly link: Link, readonly name: string,
              private readonly options: BreakerOptions = {}) {}

  async check(): Promise<BreakerCheck> {
    const fields = asFields(await this.link.call('BREAKER', 'CHECK', this.name));
    return {
      allowed: flagField(fields, 'allowed'), state: textField(fields, 'state'),
      probe: flagField(fields, 'probe'), nextProbeMs: intField(fields, 'next_probe_ms'),
      generation: intField(fields, 'generation'), degraded: flagField(fields, 'degraded'),
      fleet: flagField(fields, 'fleet'),
    };
  }

  async report(outcome: Outcome, latencyMs?: number): Promise<void> {
    if (latencyMs === undefined) await this.link.call('BREAKER', 'REPORT', this.name, outcome);
    else await this.link.call('BREAKER', 'REPORT', this.name, outcome, Math.round(latencyMs));
  }

  /** Checks, runs `call` if allowed (else BreakerOpen), and reports ok or fail with the
   *  latency. The report is best effort: if it fails (batond unreachable, the connection
   *  broke, an error reply), `onReportError` is told (default: console.warn) and the call's
   *  own result or error still comes back, since it is what the app asked for. */
  async run<T>(call: () => Promise<T>, options: RunOptions = {}): Promise<T> {
    const decision = await this.check();
    if (!decision.allowed) throw new BreakerOpen(this.name, decision);
    const started = performance.now();
    let result: T;
    try {
      result = await call();
    } catch (error) {
      const failed = options.isFailure ? options.isFailure(error) : true;
      await this.reportQuietly(failed ? 'fail' : 'ok', performance.now() - started, options);
      throw error;
    }
    await this.reportQuietly('ok', performance.now() - started, options);
    return result;
  }

  /** Never throws: a failed report is told to `onReportError`, never put in place of the
   *  call's own result or error. */
  private async reportQuietly(outcome: Outcome, latencyMs: number, options: RunOptions): Promise<void> {
    try {
      await this.report(outcome, latencyMs);
    } catch (error) {
      const tell = options.onReportError ?? this.options.onReportError ?? warnReportError;
      try {
        tell(error, this.name);
      } catch {
        // the app's own hook failed: the call's outcome still wins
      }
    }
  }
}
