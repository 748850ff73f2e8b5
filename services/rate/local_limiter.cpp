// The local share limiter; see local_limiter.hpp.
#include "services/rate/local_limiter.hpp"

#include <algorithm>

namespace baton::rate {

using std::chrono::microseconds;

std::int64_t local_limiter::share(const rate_policy& policy, const rate_window& window,
                                  std::size_t live_nodes) {
  if (policy.local_share > 0) return std::min(policy.local_share, window.limit);
  auto nodes = static_cast<std::int64_t>(std::max<std::size_t>(live_nodes, 1));
  return std::max<std::int64_t>(1, window.limit / nodes);
}

local_decision local_limiter::check(const rate_policy& policy, const std::string& key,
                                    std::int64_t cost, bool charge, std::size_t live_nodes,
                                    clock::time_point now) {
  if (tats_.size() >= capacity_) sweep(now);
  if (tats_.size() >= capacity_) tats_.clear(); // a key flood: forget rather than grow
  auto& tats = tats_[policy.name + '\0' + key];
  tats.resize(policy.windows.size(), now);
  local_decision d;
  d.allowed = true;
  std::vector<microseconds> emission(policy.windows.size());
  std::vector<microseconds> capacity(policy.windows.size());
  microseconds retry{0};
  for (std::size_t i = 0; i < policy.windows.size(); ++i) {
    auto limit = share(policy, policy.windows[i], live_nodes);
    auto window = std::chrono::duration_cast<microseconds>(policy.windows[i].window);
    emission[i] = microseconds((window.count() + limit - 1) / limit);
    capacity[i] = emission[i] * limit;
    tats[i] = std::max(tats[i], now);
    auto wait =
        std::chrono::duration_cast<microseconds>(tats[i] + emission[i] * cost - now) - capacity[i];
    if (wait > microseconds(0)) {
      d.allowed = false;
      retry = std::max(retry, wait);
    }
  }
  bool first = true;
  for (std::size_t i = 0; i < policy.windows.size(); ++i) {
    auto tat = tats[i] + (d.allowed ? emission[i] * cost : microseconds(0));
    if (d.allowed && charge) tats[i] = tat;
    auto used = std::chrono::duration_cast<microseconds>(tat - now);
    auto left = (capacity[i] - used) / emission[i];
    if (first || left < d.remaining) {
      d.remaining = left;
      d.reset_ms = (used.count() + 999) / 1000;
      first = false;
    }
  }
  d.retry_after_ms = (retry.count() + 999) / 1000;
  return d;
}

void local_limiter::sweep(clock::time_point now) {
  for (auto it = tats_.begin(); it != tats_.end();) {
    bool idle = std::all_of(it->second.begin(), it->second.end(),
                            [now](clock::time_point t) { return t <= now; });
    it = idle ? tats_.erase(it) : std::next(it);
  }
}

} // namespace baton::rate
