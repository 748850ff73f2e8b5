// Counters of rate-limit decisions per policy, for /metrics: how many requests each policy
// allowed and refused, how many refusals came from the over-limit cache, how many a shadow
// policy would have refused, and how many answers were degraded (Redis unreachable or over
// budget) by failure mode. Policies are fixed at start, so the label set is bounded.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace baton::rate {

struct policy_counters {
  std::atomic<std::uint64_t> allowed{0};
  std::atomic<std::uint64_t> limited{0};       ///< refused by the limit (in shadow: would be)
  std::atomic<std::uint64_t> cache_hits{0};    ///< refusals answered from the local cache
  std::atomic<std::uint64_t> shadow_passed{0}; ///< limited, but allowed by shadow mode
  std::atomic<std::uint64_t> degraded{0};      ///< answered by the failure mode
};

class rate_counters {
public:
  explicit rate_counters(std::vector<std::string> policies)
      : names_(std::move(policies)), slots_(new policy_counters[names_.size()]) {}

  policy_counters& at(std::size_t policy) { return slots_[policy]; }
  const policy_counters& at(std::size_t policy) const { return slots_[policy]; }
  const std::vector<std::string>& policies() const { return names_; }

  /// Appends this family's samples in the Prometheus text format.
  void render(std::string& out) const;

private:
  std::vector<std::string> names_;
  std::unique_ptr<policy_counters[]> slots_;
};

} // namespace baton::rate
