// What redis_pool's files share: the Cluster router's constants and small helpers. Not for
// use outside redis_pool*.cpp.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "redis/link_settings.hpp"

namespace baton::redis_link::cluster_rules {

// A call redirected this often is chasing a map that keeps changing under it (or a cluster
// that names itself in a loop): give up within budget rather than bounce.
constexpr int max_redirects = 5;
// Asking for the slot map at most this often, however many redirects ask for it.
constexpr milliseconds min_refresh_gap{100};
// TRYAGAIN: a multi-key call met a slot half migrated; it clears as MIGRATE moves keys.
constexpr milliseconds tryagain_delay{25};
// CLUSTERDOWN: the cluster is failing over or lost a shard; the map is asked again meanwhile.
constexpr milliseconds clusterdown_delay{100};
// While a primary of the map cannot be reached, the map is asked this often: the cluster
// promotes a replica after cluster-node-timeout, and its slots should move at once then.
constexpr milliseconds outage_refresh{250};
// The error a node's pool answers its waiting calls with when their slots moved away: not from
// Redis (no Redis error starts so), and it means "never sent: route again".
constexpr const char* reroute_marker = "BATON-REROUTE";
// A scan the slot map keeps changing under is given up after this many fresh starts.
constexpr int max_scan_restarts = 3;

inline bool starts_with(const std::string& text, const char* prefix) {
  return text.rfind(prefix, 0) == 0;
}

} // namespace baton::redis_link::cluster_rules
