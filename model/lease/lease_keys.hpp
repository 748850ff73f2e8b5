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
  /// "<prefix>:lease:{<name>}:abandoned": requests given up before Redis ran them
  /// (lua/lease_abandon.lua), so that their acquire, should it arrive after all, grants nothing.
  std::string abandoned;
};

lease_keys keys_for(const std::string& prefix, const std::string& name);

/// The pub/sub channel on which releases are announced.
std::string events_channel(const std::string& prefix);

/// The pub/sub channel on which new grants of one name are announced (LEASE WATCH).
std::string watch_channel(const std::string& prefix, const std::string& name);

} // namespace baton::lease
