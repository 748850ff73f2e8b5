// The `local` failure mode: while Redis cannot answer, each host enforces its own share of
// a policy's limits in memory (GCRA per window, like lua/rate_gcra.lua), so that the fleet
// as a whole stays near the limit instead of failing open or closed. Only used while
// degraded; its state is forgotten when it goes unused.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>
#include <unordered_map>
#include <vector>

#include "services/rate/rate_policy.hpp"

namespace baton::rate {

struct local_decision {
  bool allowed = false;
  std::int64_t remaining = 0;
  std::int64_t reset_ms = 0;
  std::int64_t retry_after_ms = 0;
};

class local_limiter {
public:
  using clock = std::chrono::steady_clock;

  explicit local_limiter(std::size_t capacity = 100000) : capacity_(capacity) {}

  /// This host's share of a window's limit: the configured local_share, or the limit
  /// divided by the live nodes (at least 1).
  static std::int64_t share(const rate_policy& policy, const rate_window& window,
                            std::size_t live_nodes);

  /// Decides (and, if `charge`, charges) a request of `cost` against every window's share.
  local_decision check(const rate_policy& policy, const std::string& key, std::int64_t cost,
                       bool charge, std::size_t live_nodes, clock::time_point now);

private:
  void sweep(clock::time_point now);

  std::size_t capacity_;
  /// policy + '\0' + key -> the theoretical arrival time of each window
  std::unordered_map<std::string, std::vector<clock::time_point>> tats_;
};

} // namespace baton::rate
