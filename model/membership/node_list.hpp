// The fleet in Redis: where membership lives, and the fleet as lua/node_list answers it: one record per live daemon. Parsed in one place for
// NODE LIST (the membership service) and for the actors that choose handoff targets.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "redis/redis_reply.hpp"
#include "redis/script_call.hpp"

namespace baton::membership {

struct node_record {
  std::string id;
  std::string address;
  std::string version;
  std::string state; ///< active or draining
  std::string run_id;
  std::int64_t sessions = 0;
  std::int64_t started_ms = 0;
  std::int64_t heartbeat_age_ms = 0;
};

/// Where membership lives: the records hash, the liveness sorted set (both under the hash tag
/// {nodes}) and the channel of join/drain/leave.
inline std::string node_records_key(const std::string& prefix) { return prefix + ":{nodes}"; }
inline std::string node_seen_key(const std::string& prefix) { return prefix + ":{nodes}:seen"; }
inline std::string node_events_channel(const std::string& prefix) {
  return prefix + ":node-events";
}

/// lua/node_list for every live node (or only `one`), live meaning a heartbeat within `ttl_ms`.
redis_link::script_call node_list_call(const std::string& prefix, std::int64_t ttl_ms,
                                       const std::string& one = {});

/// The records of a node_list reply, sorted by id; false (with `why`) if it is not one.
bool parse_node_list(const redis_link::redis_reply& reply, std::vector<node_record>& nodes,
                     std::string& why);

} // namespace baton::membership
