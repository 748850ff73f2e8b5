// What a lock and a leadership share: a connection of their own that holds the grant (batond
// releases it when that connection closes) and a second one that follows the grant's pub/sub
// channel (`lease:<name>` or `elect:<group>`), so that the app learns of a loss while it still
// works under the grant: its AbortSignal is aborted. The follower subscribes before the grant
// is asked for, so no event after the grant can be missed.
//
// A daemon that hangs (stopped, deadlocked) sends no event and renews nothing, and the grant
// runs out elsewhere while the app still works under it. So the follower is PINGed every
// ttl/8, and when nothing (no pong, no message) arrived for ttl/2 (at least 1 s) the signal
// is aborted, as the Python clients do (baton/_loss.py, baton/aio/_loss_watch.py).
import Redis from 'ioredis';
import { Lost } from './errors';
import { Link, subscribe } from './link';

/** Reads one message of the channel and says why it ends our grant (or null). `ours` is our
 *  token or term, known once the grant is answered; earlier messages are kept until then. */
export type EndsOurs = (message: string, ours: number) => string | null;

export class Holding {
  private readonly controller = new AbortController();
  private ours: number | null = null;
  private early: string[] = [];
  private letting_go = false;
  private lastHeard = performance.now();
  private pinging = false;
  private readonly silenceLimitMs: number;
  private readonly pinger: NodeJS.Timeout;

  private constructor(readonly holder: Link, private readonly follower: Redis,
                      private readonly endsOurs: EndsOurs, ttlMs: number) {
    this.silenceLimitMs = Math.max(1000, ttlMs / 2);
    this.pinger = setInterval(() => this.pingOrJudge(), Math.max(50, ttlMs / 8));
    this.pinger.unref();
  }

  /** Opens both connections and follows `channel`; the grant (of `ttlMs`, which sets how
   *  often the follower is PINGed and how long a silence is a loss) is asked for on `holder`. */
  static async open(link: Link, channel: string, endsOurs: EndsOurs, ttlMs: number): Promise<Holding> {
    const follower = await link.subscriber(false);
    let holder: Link | undefined;
    try {
      await subscribe(follower, channel);
      holder = await link.dedicated();
    } catch (error) {
      follower.disconnect();
      throw error;
    }
    const holding = new Holding(holder, follower, endsOurs, ttlMs);
    follower.on('message', (_channel: string, message: string) => {
      holding.lastHeard = performance.now();
      holding.heard(message);
    });
    // Either connection closing ends what we know: the holder's takes the grant with it; the
    // follower's leaves a loss unseen, so it counts as one too (the safe side for a lock).
    holder.redis.on('close', () => holding.end('the holding connection to batond closed'));
    follower.on('close', () => holding.end('the connection following the grant closed'));
    return holding;
  }

  get signal(): AbortSignal {
    return this.controller.signal;
  }

  /** Our token or term, once granted: messages from then on are judged against it. */
  granted(ours: number): void {
    this.ours = ours;
    // The grant's answer came just now from the same daemon: it is not hung.
    this.lastHeard = performance.now();
    const early = this.early;
    this.early = [];
    for (const message of early) this.heard(message);
  }

  /** From now on a release or closing is ours, not a loss. */
  lettingGo(): void {
    this.letting_go = true;
  }

  private pingOrJudge(): void {
    // Before the grant (a WAIT, ELECT JOIN) a silence costs nothing yet: nothing is held, and
    // the subscription loses no event while the daemon is merely slow.
    if (this.ours === null || performance.now() - this.lastHeard <= this.silenceLimitMs) {
      if (this.pinging) return; // one unanswered PING at a time: a hang piles none up
      this.pinging = true;
      this.follower.ping().then(() => { this.lastHeard = performance.now(); }, () => undefined)
        .finally(() => { this.pinging = false; });
      return;
    }
    // Judged after this turn's I/O (setImmediate runs after the poll phase): an event loop
    // that was blocked longer than the limit may have pongs waiting, and they count.
    setImmediate(() => {
      const silentMs = performance.now() - this.lastHeard;
      if (silentMs <= this.silenceLimitMs) return;
      this.end(`batond answered nothing on the connection following the grant for ` +
               `${(silentMs / 1000).toFixed(1)} s (it is PINGed; a daemon that hangs renews nothing)`);
    });
  }

  private heard(message: string): void {
    if (this.ours === null) {
      this.early.push(message);
      return;
    }
    const why = this.endsOurs(message, this.ours);
    if (why !== null) this.end(why);
  }

  private end(why: string): void {
    if (this.letting_go || this.controller.signal.aborted) return;
    clearInterval(this.pinger);
    this.controller.abort(new Lost('LOST', why));
  }

  close(): void {
    this.letting_go = true;
    clearInterval(this.pinger);
    this.follower.disconnect();
    this.holder.close();
  }
}
