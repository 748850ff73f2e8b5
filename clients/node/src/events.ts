// Events with replay (protocol/API.md, "Events"): topics are Redis Streams any daemon appends
// to and reads. A reader keeps the id of the last event it handled and reads on from it, on
// any daemon, missing nothing and seeing nothing twice. `follow` is that loop as an async
// iterator, on a connection of its own (a blocking read would hold up the shared one).
import { Arg, Link } from './link';
import { asList, asText } from './replies';
import { UnexpectedReply } from './errors';

/** An event: its id ("<ms>-<seq>", growing along the topic) and its payload. */
export interface BatonEvent {
  id: string;
  payload: string;
}

function eventsFrom(reply: unknown): BatonEvent[] {
  return asList(reply).map((entry) => {
    const pair = asList(entry);
    if (pair.length !== 2) throw new UnexpectedReply(`expected [id, payload], got ${JSON.stringify(entry)}`);
    return { id: asText(pair[0]), payload: asText(pair[1]) };
  });
}

export interface FollowOptions {
  /** The id after which to start: "0" everything kept (default), "$" from now on, or the last
   *  id handled (a resume, on any daemon). */
  from?: string;
  /** How long one read waits before it asks again (at most events.max_block_ms). */
  blockMs?: number;
  count?: number;
  /** Ends the iteration (the blocked read's connection is closed). */
  signal?: AbortSignal;
}

export class EventCalls {
  constructor(private readonly link: Link) {}

  /** EVENTS PUBLISH; answers the event's id. With `dedup` (an order id, a UUID), a publish
   *  sent again within the topic's dedup window appends nothing and answers the first id. */
  async publish(topic: string, payload: string | Buffer, options: { dedup?: string } = {}): Promise<string> {
    const args: Arg[] = ['PUBLISH', topic, payload];
    if (options.dedup !== undefined) args.push('DEDUP', options.dedup);
    return asText(await this.link.call('EVENTS', ...args));
  }

  /** EVENTS READ: the events after `from`, at most `count`. `blockMs` waits for the first:
   *  on the shared connection that holds up every call behind it; `follow` has its own. */
  async read(topic: string, from: string, options: { count?: number; blockMs?: number } = {}): Promise<BatonEvent[]> {
    return eventsFrom(await this.link.call('EVENTS', ...readArgs(topic, from, options)));
  }

  /** Every event after `from`, in order, until `signal` aborts or the loop is left. */
  async *follow(topic: string, options: FollowOptions = {}): AsyncGenerator<BatonEvent> {
    const reader = await this.link.dedicated();
    const stop = () => reader.close();
    options.signal?.addEventListener('abort', stop);
    try {
      let position = options.from ?? '0';
      if (position === '$') position = await this.positionNow(topic);
      while (!options.signal?.aborted) {
        let batch: BatonEvent[];
        try {
          batch = eventsFrom(await reader.call('EVENTS', ...readArgs(topic, position, {
            count: options.count ?? 100, blockMs: options.blockMs ?? 10_000,
          })));
        } catch (error) {
          if (options.signal?.aborted) return;
          throw error;
        }
        for (const event of batch) {
          position = event.id;
          yield event;
        }
      }
    } finally {
      options.signal?.removeEventListener('abort', stop);
      reader.close();
    }
  }

  /** The topic's end as it is now: EVENTS WATCH FROM $ answers [position, watching] first,
   *  on a connection closed right after (the watch ends with it). */
  private async positionNow(topic: string): Promise<string> {
    const watcher = await this.link.dedicated();
    try {
      const reply = asList(await watcher.call('EVENTS', 'WATCH', topic, 'FROM', '$'));
      return asText(reply[0]);
    } finally {
      watcher.close();
    }
  }
}

function readArgs(topic: string, from: string, options: { count?: number; blockMs?: number }): Arg[] {
  const args: Arg[] = ['READ', topic, 'FROM', from];
  if (options.count !== undefined) args.push('COUNT', options.count);
  if (options.blockMs !== undefined) args.push('BLOCK', options.blockMs);
  return args;
}
