// The writes whose loss in a failover would break a promise baton made to an app, so that with
// `redis.wait_replicas` set the link follows each with `WAIT` and answers only once replicas
// have it (or the wait timed out, which is counted; Redis cannot take a write back). Replication
// is otherwise asynchronous: a failover may promote a replica that misses the last writes.
//
// In: lease grants and their fencing counter (an app told "you hold it" must not see the same
// name granted again at a lower token), session opens, resumes and ownership moves (a handoff
// that lost its move would strand the session) and closes (a logout must not come back),
// secret versions staged and promoted (a version that apps started using must not vanish),
// idempotency results (a repeat must get the stored result, not run the work twice), and
// STATE's writes and deletes, GETDEL's too (an app told "written at version V" compares and sets on V: a
// write lost behind its answer would let two writers both win), and EVENTS' publishes and
// group creations (a reader told an event's id must find it, on any host, after a failover).
// Out, measured cheaper to lose than to wait for: renewals (the earlier expiry survives, and a
// KEEP holder renews every third of its TTL), releases (a lost one leaves the lease to its
// TTL, as a crashed holder does), rate-limit counters (a failover forgets a few
// hits), session state and touches (the app's own data: STATE SET is last-write-wins within a
// version, see docs/topologies.md), and everything a daemon rebuilds on its own (heartbeats,
// acks, counts, audit).
#pragma once

#include <string_view>

namespace baton::redis_link {

inline bool is_durable_script(std::string_view name) {
  for (std::string_view durable :
       {"lease_acquire", "session_open", "session_resume", "session_move", "session_close",
        "secret_begin",
        "secret_stage", "secret_promote", "secret_rewrap", "dedup_done", "state_write",
        "state_delete", "state_getdel", "state_restore", "events_publish", "events_group_create"})
    if (name == durable) return true;
  return false;
}

} // namespace baton::redis_link
