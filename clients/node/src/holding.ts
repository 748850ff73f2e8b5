// What a lock and a leadership share: a connection of their own that holds the grant (batond
// releases it when that connection closes) and a second one that follows the grant's pub/sub
// channel (`lease:<name>` or `elect:<group>`), so that the app learns of a loss while it still
// works under the grant: its AbortSignal is aborted. The follower subscribes before the grant
// is asked for, so no event after the grant can be missed.
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

  private constructor(readonly holder: Link, private readonly follower: Redis,
                      private readonly endsOurs: EndsOurs) {}

  /** Opens both connections and follows `channel`; the grant is asked for on `holder`. */
  static async open(link: Link, channel: string, endsOurs: EndsOurs): Promise<Holding> {
    const follower = await link.subscriber(false);
    let holder: Link | undefined;
    try {
      await subscribe(follower, channel);
      holder = await link.dedicated();
    } catch (error) {
      follower.disconnect();
      throw error;
    }
    const holding = new Holding(holder, follower, endsOurs);
    follower.on('message', (_channel: string, message: string) => holding.heard(message));
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
    const early = this.early;
    this.early = [];
    for (const message of early) this.heard(message);
  }

  /** From now on a release or closing is ours, not a loss. */
  lettingGo(): void {
    this.letting_go = true;
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
    this.controller.abort(new Lost('LOST', why));
  }

  close(): void {
    this.letting_go = true;
    this.follower.disconnect();
    this.holder.close();
  }
}
