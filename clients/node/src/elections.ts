// Leader election (protocol/API.md, "Leader election"): `campaign` waits until this process
// leads the group, on a connection of its own (ELECT JOIN waits, and leadership lasts while
// that connection is open), and answers a Leadership whose AbortSignal is aborted when the
// leadership is lost. `observeLeader` follows who leads through `SUBSCRIBE elect:<group>`.
import Redis from 'ioredis';
import { Holding } from './holding';
import { Arg, Link, subscribe } from './link';
import { asFields, intField } from './replies';

export interface LeaderEvent {
  /** `leader`: `candidate` leads under `term`; `vacant`: the term ended (term 0 and empty
   *  names when nobody led at the start); `lost`: this daemon could not renew a leadership. */
  event: 'leader' | 'vacant' | 'lost';
  term: number;
  node: string;
  candidate: string;
}

/** `<event> <term> <node> <candidate>`; the candidate may hold spaces. */
export function parseLeaderEvent(message: string): LeaderEvent {
  const first = message.indexOf(' ');
  const second = message.indexOf(' ', first + 1);
  const third = message.indexOf(' ', second + 1);
  return {
    event: message.slice(0, first) as LeaderEvent['event'],
    term: Number(message.slice(first + 1, second)),
    node: message.slice(second + 1, third < 0 ? undefined : third),
    candidate: third < 0 ? '' : message.slice(third + 1),
  };
}

function leadershipEndsOurs(message: string, ours: number): string | null {
  const { event, term } = parseLeaderEvent(message);
  if (term === ours && (event === 'lost' || event === 'vacant')) {
    return `the leadership of term ${ours} ended (${event})`;
  }
  if (event === 'leader' && term > ours) return `term ${term} has another leader`;
  return null;
}

/** This process leads the group under `term` until `resign()` or until `signal` aborts. */
export class Leadership {
  constructor(readonly group: string, readonly term: number, private readonly holding: Holding) {}

  get signal(): AbortSignal {
    return this.holding.signal;
  }

  /** ELECT RESIGN, then closes the leadership's connections (which would end it anyway). */
  async resign(): Promise<void> {
    this.holding.lettingGo();
    try {
      await this.holding.holder.call('ELECT', 'RESIGN', this.group);
    } finally {
      this.holding.close();
    }
  }
}

export interface CampaignOptions {
  /** The leadership lease's TTL (batond's default 10 s). */
  ttlMs?: number;
  /** Give up with Denied after this long (batond's default and maximum: one hour). */
  timeoutMs?: number;
}

export async function campaign(link: Link, group: string, candidate: string,
                               options: CampaignOptions = {}): Promise<Leadership> {
  // batond's default leadership TTL is 10 s: the follower's silence limit is judged on it.
  const holding = await Holding.open(link, `elect:${group}`, leadershipEndsOurs,
                                     options.ttlMs ?? 10_000);
  try {
    const args: Arg[] = ['JOIN', group, candidate];
    if (options.ttlMs !== undefined) args.push('TTL', options.ttlMs);
    if (options.timeoutMs !== undefined) args.push('TIMEOUT', options.timeoutMs);
    const term = intField(asFields(await holding.holder.call('ELECT', ...args)), 'term');
    holding.granted(term);
    return new Leadership(group, term, holding);
  } catch (error) {
    holding.close();
    throw error;
  }
}

/** Follows a group's leader: `onChange` gets the leader as it is now, then every change.
 *  The subscription reconnects (and resubscribes) if its connection breaks; the first
 *  message after that is the leader then. Stop with `close()`. */
export class LeaderObserver {
  private constructor(private readonly redis: Redis) {}

  static async start(link: Link, group: string,
                     onChange: (event: LeaderEvent) => void): Promise<LeaderObserver> {
    const redis = await link.subscriber(true);
    redis.on('message', (_channel: string, message: string) => onChange(parseLeaderEvent(message)));
    try {
      await subscribe(redis, `elect:${group}`);
    } catch (error) {
      redis.disconnect();
      throw error;
    }
    return new LeaderObserver(redis);
  }

  close(): void {
    this.redis.disconnect();
  }
}
