// A lease the daemon takes for a job of its own (a secret rotation, the adoption of a dead
// node's sessions) rather than for a client: the same lua/lease_*.lua, so it fences like any
// lease and shows in LEASE INFO and LEASE WATCH, but held by no connection and never renewed:
// the job must finish within its ttl, and fences its own writes with the token.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>

#include "model/lease/lease_holder.hpp"
#include "protocol/result.hpp"
#include "redis/redis_pool.hpp"
#include "redis/script_call.hpp"

namespace baton::lease {

struct task_lease {
  std::string prefix;
  std::string name;  ///< the lease name, e.g. "secret-rotation/<secret>"
  std::string owner; ///< unique per job: "<node>:<run>:<job>"
  std::string node;
  std::string token;          ///< set once granted
  bool sharded_watch = false; ///< a Cluster: the grant is announced with SPUBLISH
};

/// The lease is the job's under `token` (also set in the task_lease).
struct task_lease_grant {
  std::string token;
};

/// Taking a task lease: granted, or a failure: denied (another holds it; the context is a
/// lease_holder naming at least its node) or unavailable (no usable answer from Redis).
using task_lease_result = protocol::result<task_lease_grant>;

/// The same as values, for actors (which send them to the link actor): the acquire call, how
/// to read its reply (setting `lease.token` when granted), and the release call.
redis_link::script_call task_lease_acquire_call(const task_lease& lease,
                                                std::chrono::milliseconds ttl,
                                                const std::string& about, const std::string& meta);
task_lease_result read_task_lease_reply(const redis_link::redis_reply& reply, task_lease& lease);
redis_link::script_call task_lease_release_call(const task_lease& lease);

/// Takes the lease for `ttl`; `lease.token` is set when granted (`lease` must live until
/// `done` runs: keep it in the job's state). `about` describes the job in
/// LEASE INFO's client field, `meta` is its META.
void acquire_task_lease(redis_link::redis_pool& redis, task_lease& lease,
                        std::chrono::milliseconds ttl, const std::string& about,
                        const std::string& meta, std::function<void(task_lease_result)> done);

/// Gives it back (announced, so waiters need not wait for the ttl); no-op without a token.
void release_task_lease(redis_link::redis_pool& redis, const task_lease& lease);

} // namespace baton::lease
