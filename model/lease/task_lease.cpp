// Leases held by the daemon's own jobs; see task_lease.hpp.
#include "model/lease/task_lease.hpp"

#include "model/lease/lease_keys.hpp"

namespace baton::lease {

redis_link::script_call task_lease_acquire_call(const task_lease& lease,
                                                std::chrono::milliseconds ttl,
                                                const std::string& about, const std::string& meta) {
  auto keys = keys_for(lease.prefix, lease.name);
  return {"lease_acquire",
          {keys.lease, keys.fence},
          {lease.owner, std::to_string(ttl.count()), lease.node, about, meta, "0", "0",
           watch_channel(lease.prefix, lease.name)},
          0};
}

task_lease_result read_task_lease_reply(const redis_link::redis_reply& r, task_lease& lease) {
  task_lease_result result;
  if (r.kind != redis_link::reply_kind::array || r.elements.size() < 2) {
    result.why = r.str.empty() ? "unexpected reply to lease_acquire" : r.str;
  } else if (r.elements[0].integer == 1) {
    lease.token = std::to_string(r.elements[1].integer);
    result.what = task_lease_result::kind::granted;
  } else {
    result.what = task_lease_result::kind::held;
    result.holder_node = r.elements.size() > 3 ? r.elements[3].str : "?";
  }
  return result;
}

redis_link::script_call task_lease_release_call(const task_lease& lease) {
  return {"lease_release",
          {keys_for(lease.prefix, lease.name).lease},
          {lease.owner, lease.token, events_channel(lease.prefix), lease.name},
          0};
}

void acquire_task_lease(redis_link::redis_pool& redis, task_lease& lease,
                        std::chrono::milliseconds ttl, const std::string& about,
                        const std::string& meta, std::function<void(task_lease_result)> done) {
  auto call = task_lease_acquire_call(lease, ttl, about, meta);
  redis.run_script(call.name, call.keys, call.args,
                   [&lease, done = std::move(done)](redis_link::redis_reply r) {
                     done(read_task_lease_reply(r, lease));
                   });
}

void release_task_lease(redis_link::redis_pool& redis, const task_lease& lease) {
  if (lease.token.empty()) return;
  auto call = task_lease_release_call(lease);
  redis.run_script(call.name, call.keys, call.args, [](redis_link::redis_reply) {});
}

} // namespace baton::lease
