// Leases held by the daemon's own jobs; see task_lease.hpp.
#include "model/lease/task_lease.hpp"

#include "model/lease/lease_keys.hpp"
#include "model/lease/token_floor.hpp"

namespace baton::lease {

redis_link::script_call task_lease_acquire_call(const task_lease& lease,
                                                std::chrono::milliseconds ttl,
                                                const std::string& about, const std::string& meta) {
  auto keys = keys_for(lease.prefix, lease.name);
  // The daemon's own jobs are fenced by this host's clock as well (token_floor.hpp).
  auto floor = clock_floor(std::chrono::system_clock::now());
  return {"lease_acquire",
          {keys.lease, keys.fence},
          {lease.owner, std::to_string(ttl.count()), lease.node, about, meta, "0",
           std::to_string(floor), watch_channel(lease.prefix, lease.name), "",
           watch_publish(lease.sharded_watch)},
          0};
}

task_lease_result read_task_lease_reply(const redis_link::redis_reply& r, task_lease& lease) {
  using protocol::error_code;
  if (r.kind != redis_link::reply_kind::array || r.elements.size() < 2)
    return protocol::fail(error_code::unavailable,
                          r.str.empty() ? "unexpected reply to lease_acquire" : r.str);
  if (r.elements[0].integer == 1) {
    lease.token = std::to_string(r.elements[1].integer);
    return task_lease_grant{lease.token};
  }
  // The refusal: status, state, owner, node, client, token, remaining_ms.
  lease_holder holder;
  holder.node = r.elements.size() > 3 ? r.elements[3].str : "?";
  if (r.elements.size() >= 7) {
    holder.state = r.elements[1].str;
    holder.owner = r.elements[2].str;
    holder.client = r.elements[4].str;
    holder.token = r.elements[5].integer;
    holder.remaining_ms = r.elements[6].integer;
  }
  return protocol::fail(error_code::denied,
                        "lease '" + lease.name + "' is held by node " + holder.node, holder);
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
