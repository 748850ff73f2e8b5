// Circuit breakers (protocol/API.md, "Circuit breakers"): CHECK before a call to a dependency,
// REPORT how it went. Both are answered from the daemon's memory, so `run` (check, call,
// report with the latency) costs two local round trips and no Redis one. batond decides
// slowness from the reported latency and the policy's `slow_call_ms`.
import { BatonError } from './errors';
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

export interface RunOptions {
  /** Which errors count as the dependency failing (default: all). Others are reported ok. */
  isFailure?: (error: unknown) => boolean;
}

export class Breaker {
  constructor(private readonly link: Link, readonly name: string) {}

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
   *  latency. The report is best effort: if batond cannot take it (the connection broke), the
   *  call's own result or error still comes back, since it is what the app asked for. */
  async run<T>(call: () => Promise<T>, options: RunOptions = {}): Promise<T> {
    const decision = await this.check();
    if (!decision.allowed) throw new BreakerOpen(this.name, decision);
    const started = performance.now();
    let result: T;
    try {
      result = await call();
    } catch (error) {
      const failed = options.isFailure ? options.isFailure(error) : true;
      await this.reportQuietly(failed ? 'fail' : 'ok', performance.now() - started);
      throw error;
    }
    await this.reportQuietly('ok', performance.now() - started);
    return result;
  }

  private async reportQuietly(outcome: Outcome, latencyMs: number): Promise<void> {
    try {
      await this.report(outcome, latencyMs);
    } catch (error) {
      // A BatonError here is a bug (a bad name is refused by CHECK first): say so.
      if (error instanceof BatonError) throw error;
    }
  }
}
