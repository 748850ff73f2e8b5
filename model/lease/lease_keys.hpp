// Lease names as users give them, checked, and the Redis keys they map to. All keys of one
// lease share the hash tag {name}, so they land in one Redis Cluster slot.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace baton::lease {

/// Empty when `name` is acceptable, else the reason (for an -ERR reply).
std::string check_name(std::string_view name, std::size_t max_length);

struct lease_keys {
  std::string lease; ///< "<prefix>:lease:{<name>}"
  std::string fence; ///< "<prefix>:lease:{<name>}:fence"
};

lease_keys keys_for(const std::string& prefix, const std::string& name);

/// "<prefix>:lease:{<name>}:abandoned:<owner>:<request id>": the mark of a request given up
/// before Redis ran it (lua/lease_abandon.lua), so that its acquire, should it arrive after
/// all, grants nothing. One short-lived key per request: nothing accumulates.
std::string abandoned_key(const std::string& prefix, const std::string& name,
                          const std::string& owner, const std::string& request_id);

/// The pub/sub channel on which releases are announced.
std::string events_channel(const std::string& prefix);

/// The pub/sub channel on which new grants of one name are announced (LEASE WATCH).
std::string watch_channel(const std::string& prefix, const std::string& name);
/// How lua/lease_acquire announces a grant on the watch channel (its ARGV[10]): sharded on a
/// Redis Cluster, where the channel shares the lease's slot (redis/shard_channels.hpp).
inline const char* watch_publish(bool sharded) { return sharded ? "SPUBLISH" : "PUBLISH"; }

} // namespace baton::lease
