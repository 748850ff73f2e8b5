// Sessions (protocol/API.md, "Sessions"): one owner node at a time, state sealed at rest, and
// resume tokens that move a session to whichever node its client reconnects to. The
// SessionFollower turns `SUBSCRIBE sessions` into events, so that a WebSocket server that
// hears `handoff-out` tells its browser "reconnect to <address> with <token>" in one line.
import { EventEmitter } from 'events';
import Redis from 'ioredis';
import { Arg, Link, subscribe } from './link';
import { asFields, asInt, asList, Fields, intField, optionalText, textField } from './replies';

export interface OpenedSession {
  id: string;
  token: string;
  owner: string;
  epoch: number;
  ttlMs: number;
}

export interface SessionInfo {
  id: string;
  user: string;
  owner: string;
  epoch: number;
  meta: string | null;
  createdMs: number;
  touchedMs: number;
  ttlMs: number;
  expiresInMs: number;
  stateVersion: number;
}

export interface SessionState {
  stateVersion: number;
  state: string | null;
}

/** SESSION RESUME's answer: the session, now owned by this node, with its state and the
 *  token for the next move. */
export interface ResumedSession extends SessionState {
  id: string;
  user: string;
  owner: string;
  epoch: number;
  meta: string | null;
  ttlMs: number;
  token: string;
}

function infoFrom(fields: Fields): SessionInfo {
  return {
    id: textField(fields, 'id'), user: textField(fields, 'user'), owner: textField(fields, 'owner'),
    epoch: intField(fields, 'epoch'), meta: optionalText(fields, 'meta'),
    createdMs: intField(fields, 'created_ms'), touchedMs: intField(fields, 'touched_ms'),
    ttlMs: intField(fields, 'ttl_ms'), expiresInMs: intField(fields, 'expires_in_ms'),
    stateVersion: intField(fields, 'state_version'),
  };
}

export class SessionCalls {
  constructor(private readonly link: Link) {}

  /** SESSION OPEN. Draining on a node that drains (its text names an active node). */
  async open(user: string, options: { ttlMs?: number; meta?: string } = {}): Promise<OpenedSession> {
    const args: Arg[] = ['OPEN', user];
    if (options.ttlMs !== undefined) args.push(options.ttlMs);
    if (options.meta !== undefined) args.push('META', options.meta);
    const fields = asFields(await this.link.call('SESSION', ...args));
    return {
      id: textField(fields, 'id'), token: textField(fields, 'token'), owner: textField(fields, 'owner'),
      epoch: intField(fields, 'epoch'), ttlMs: intField(fields, 'ttl_ms'),
    };
  }

  /** SESSION GET (any node): null when closed or expired. */
  async get(id: string): Promise<SessionInfo | null> {
    const reply = await this.link.call('SESSION', 'GET', id);
    return reply === null ? null : infoFrom(asFields(reply));
  }

  async list(user: string): Promise<SessionInfo[]> {
    return asList(await this.link.call('SESSION', 'LIST', user)).map((r) => infoFrom(asFields(r)));
  }

  /** SESSION STATE: `state` is null before the first write. */
  async state(id: string): Promise<SessionState> {
    const fields = asFields(await this.link.call('SESSION', 'STATE', id));
    return { stateVersion: intField(fields, 'state_version'), state: optionalText(fields, 'state') };
  }

  /** SESSION STATE SET on the owner node; Moved elsewhere. Answers the new state version. */
  async setState(id: string, state: string | Buffer): Promise<number> {
    return intField(asFields(await this.link.call('SESSION', 'STATE', id, 'SET', state)), 'state_version');
  }

  /** SESSION TOUCH: another ttl; null when the session is gone. */
  async touch(id: string): Promise<{ owner: string; epoch: number; ttlMs: number } | null> {
    const reply = await this.link.call('SESSION', 'TOUCH', id);
    if (reply === null) return null;
    const fields = asFields(reply);
    return { owner: textField(fields, 'owner'), epoch: intField(fields, 'epoch'), ttlMs: intField(fields, 'ttl_ms') };
  }

  /** SESSION CLOSE: true when it was open. */
  async close(id: string): Promise<boolean> {
    return asInt(await this.link.call('SESSION', 'CLOSE', id)) === 1;
  }

  /** SESSION RESUME (any node): this node owns it from now on. Refused for a token not valid
   *  or used already. */
  async resume(token: string): Promise<ResumedSession> {
    const fields = asFields(await this.link.call('SESSION', 'RESUME', token));
    return {
      id: textField(fields, 'id'), user: textField(fields, 'user'), owner: textField(fields, 'owner'),
      epoch: intField(fields, 'epoch'), meta: optionalText(fields, 'meta'),
      ttlMs: intField(fields, 'ttl_ms'), stateVersion: intField(fields, 'state_version'),
      state: optionalText(fields, 'state'), token: textField(fields, 'token'),
    };
  }

  /** A SessionFollower, subscribed when this resolves. */
  async follow(): Promise<SessionFollower> {
    return SessionFollower.start(this.link);
  }
}

/** `handoff-out`: this node drains and the session now belongs to `targetNode`; tell the
 *  client to reconnect to `targetAddress` (the target's `membership.address`) and resume with
 *  `token` (empty when this connection is an admin's of another uid). */
export interface HandoffOut {
  id: string;
  targetNode: string;
  targetAddress: string;
  token: string;
}

/** `handoff-in`: a session is coming to this node from `fromNode`. */
export interface HandoffIn {
  id: string;
  fromNode: string;
}

export declare interface SessionFollower {
  on(event: 'handoff-out', listener: (handoff: HandoffOut) => void): this;
  on(event: 'handoff-in', listener: (handoff: HandoffIn) => void): this;
}

/** Hears this node's session handoffs (`SUBSCRIBE sessions`): only those of sessions opened
 *  by this process's uid carry a token. The subscription reconnects if its connection breaks
 *  (a handoff pushed meanwhile is missed; the client's previous token still resumes it). */
export class SessionFollower extends EventEmitter {
  private constructor(private readonly redis: Redis) {
    super();
  }

  static async start(link: Link): Promise<SessionFollower> {
    const redis = await link.subscriber(true);
    const follower = new SessionFollower(redis);
    redis.on('message', (_channel: string, message: string) => follower.heard(message));
    try {
      await subscribe(redis, 'sessions');
    } catch (error) {
      redis.disconnect();
      throw error;
    }
    return follower;
  }

  private heard(message: string): void {
    const words = message.split(' ');
    if (words[0] === 'handoff-out') {
      const handoff: HandoffOut = {
        id: words[1] ?? '', targetNode: words[2] ?? '', targetAddress: words[3] ?? '', token: words[4] ?? '',
      };
      this.emit('handoff-out', handoff);
    } else if (words[0] === 'handoff-in') {
      const handoff: HandoffIn = { id: words[1] ?? '', fromNode: words[2] ?? '' };
      this.emit('handoff-in', handoff);
    }
  }

  close(): void {
    this.redis.disconnect();
  }
}
