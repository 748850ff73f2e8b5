// A named rate-limit policy as the config defines it (rate.policies): its algorithm, its
// windows, and what to answer when Redis cannot. Plain data, validated by config_loader.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

namespace baton::rate {

/// One window of a policy: at most `limit` requests per `window`.
struct rate_window {
  std::chrono::milliseconds window{0};
  std::int64_t limit = 0;

  bool operator==(const rate_window& other) const {
    return window == other.window && limit == other.limit;
  }
};

/// RATE CHECK policy key: every window is checked and charged in one Lua call; nothing is
/// charged when any window refuses.
struct rate_policy {
  std::string name;
  std::string algorithm = "gcra"; ///< gcra, sliding_window, sliding_log, fixed_window
  std::vector<rate_window> windows;
  /// When Redis is unreachable or over budget: open (allow), closed (deny), or local
  /// (enforce this host's share of each limit).
  std::string failure_mode = "open";
  std::int64_t local_share = 0; ///< local: requests per window on this host; 0: limit / live nodes
  bool shadow = false;          ///< decide and count, but always allow

  bool operator==(const rate_policy& other) const {
    return name == other.name && algorithm == other.algorithm && windows == other.windows &&
           failure_mode == other.failure_mode && local_share == other.local_share &&
           shadow == other.shadow;
  }
  bool operator!=(const rate_policy& other) const { return !(*this == other); }

  /// The smallest limit of its windows: no single request may cost more.
  std::int64_t smallest_limit() const {
    std::int64_t smallest = 0;
    for (const auto& w : windows)
      if (smallest == 0 || w.limit < smallest) smallest = w.limit;
    return smallest;
  }
};

} // namespace baton::rate
