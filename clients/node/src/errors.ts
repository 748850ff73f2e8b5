// baton's error replies as error classes. Every error batond writes starts with a stable
// upper-case code (protocol/API.md, "Errors"); the code picks the class, so an app catches
// `Denied` or `Conflict` instead of matching texts. The whole reply stays in `message`.

/** An error reply from batond: `code` is its first word ("DENIED"), `text` the rest. */
export class BatonError extends Error {
  readonly code: string;
  readonly text: string;
  constructor(code: string, text: string) {
    super(text ? `${code} ${text}` : code);
    this.name = new.target.name;
    this.code = code;
    this.text = text;
  }
}

/** ERR (bad arguments, unknown policy or namespace, a feature off), NOPROTO, and any code
 *  this library does not know yet. */
export class OtherError extends BatonError {}
/** NOPERM: the access rules refuse this caller, it needs an admin, or it is another uid's. */
export class NoPerm extends BatonError {}
/** UNAVAILABLE: Redis did not answer in time; a change certainly did not apply. */
export class Unavailable extends BatonError {}
/** DENIED: someone else holds the lease (or lock-delay). `token` and `remainingMs` are the
 *  holder's when the text gives them. */
export class Denied extends BatonError {
  readonly token: number | undefined;
  readonly remainingMs: number | undefined;
  constructor(code: string, text: string) {
    super(code, text);
    this.token = numberAfter(/under token (\d+)/, text);
    this.remainingMs = numberAfter(/for (\d+) ms/, text);
  }
}
/** LOST: the caller held it and no longer does. */
export class Lost extends BatonError {}
/** NOTHELD: not held under that token (never acquired, or released). */
export class NotHeld extends BatonError {}
/** DRAINING: this node drains for a deploy; the text names an active node. */
export class Draining extends BatonError {}
/** MOVED: the session belongs to another node now; the text names it. */
export class Moved extends BatonError {}
/** REFUSED: a resume token not valid or used already, or a stale scan cursor. */
export class Refused extends BatonError {}
/** BUSY: the same work runs on another daemon (a rotation of that secret). */
export class Busy extends BatonError {}
/** CONFLICT: a concurrent change won. `version` is the winner's (0: no value), ready to pass
 *  as the next `ifVersion`; undefined when the text does not say. */
export class Conflict extends BatonError {
  readonly version: number | undefined;
  constructor(code: string, text: string) {
    super(code, text);
    this.version = text.includes('has no value') ? 0 : numberAfter(/at version (\d+)/, text);
  }
}
/** UNKNOWN: Redis may or may not have applied it; sending it again as it was is safe. */
export class Unknown extends BatonError {}

/** A reply whose shape this library does not expect (a daemon newer or older than it, or a
 *  bug). Not a BatonError: batond refused nothing. */
export class UnexpectedReply extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UnexpectedReply';
  }
}

/** The connection to batond closed after the command was sent and before its answer: it may
 *  or may not have taken effect, and this library does not send it again (a SESSION OPEN or
 *  an EVENTS PUBLISH twice would be two). Not a BatonError: batond answered nothing. */
export class ConnectionClosed extends Error {
  constructor() {
    super('the connection to batond closed before the answer: the command may or may not ' +
          'have taken effect, and it is not sent again');
    this.name = 'ConnectionClosed';
  }
}

type ErrorClass = new (code: string, text: string) => BatonError;
const classOfCode: Record<string, ErrorClass> = {
  NOPERM: NoPerm,
  UNAVAILABLE: Unavailable,
  DENIED: Denied,
  LOST: Lost,
  NOTHELD: NotHeld,
  DRAINING: Draining,
  MOVED: Moved,
  REFUSED: Refused,
  BUSY: Busy,
  CONFLICT: Conflict,
  UNKNOWN: Unknown,
};

/** The error for a whole error reply, "CODE sentence". */
export function errorFromReply(reply: string): BatonError {
  const space = reply.indexOf(' ');
  const code = space < 0 ? reply : reply.slice(0, space);
  const text = space < 0 ? '' : reply.slice(space + 1);
  const Class = classOfCode[code] ?? OtherError;
  return new Class(code, text);
}

function numberAfter(pattern: RegExp, text: string): number | undefined {
  const found = pattern.exec(text);
  return found ? Number(found[1]) : undefined;
}
