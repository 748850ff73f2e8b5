// baton for Node.js: a typed client of batond, the per-host coordination daemon, over ioredis
// on its local Unix socket. Start with `new Baton()`; see clients/node/README.md.
export { Baton, BatonOptions, DEFAULT_SOCKET, socketPathFrom } from './client';
export {
  BatonError, Busy, Conflict, ConnectionClosed, Denied, Draining, Lost, Moved, NoPerm, NotHeld, OtherError, Refused,
  Unavailable, UnexpectedReply, Unknown, errorFromReply,
} from './errors';
export { AcquireOptions, Lease, LeaseInfo } from './leases';
export { LockOptions } from './lock';
export { CampaignOptions, LeaderEvent, LeaderObserver, Leadership } from './elections';
export { RateDecision } from './rate';
export { RateLimitOptions, rateLimitHeaders } from './http-rate';
export { Claim, InProgress, OnceOptions } from './dedup';
export { IdempotencyOptions } from './http-idempotency';
export { Secret, SecretWatcher, Verification, WatchOptions } from './secrets';
export { HandoffIn, HandoffOut, OpenedSession, ResumedSession, SessionFollower, SessionInfo, SessionState } from './sessions';
export { Breaker, BreakerCheck, BreakerOpen, BreakerOptions, Outcome, RunOptions } from './breakers';
export { StateEntry, StateSetOptions } from './state';
export { CacheEntry } from './cache';
export { BatonEvent, FollowOptions } from './events';
