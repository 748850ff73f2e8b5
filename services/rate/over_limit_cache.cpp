// The over-limit cache; see over_limit_cache.hpp.
#include "services/rate/over_limit_cache.hpp"

namespace baton::rate {

void over_limit_cache::remember(const std::string& policy, const std::string& key, denial d,
                                clock::time_point now) {
  auto name = entry_name(policy, key);
  if (entries_.size() >= capacity_ && entries_.count(name) == 0) {
    sweep(now);
    if (entries_.size() >= capacity_) return;
  }
  entries_[name] = d;
}

std::optional<over_limit_cache::denial> over_limit_cache::find(const std::string& policy,
                                                               const std::string& key,
                                                               std::int64_t cost,
                                                               clock::time_point now) {
  if (entries_.empty()) return std::nullopt;
  auto it = entries_.find(entry_name(policy, key));
  if (it == entries_.end()) return std::nullopt;
  if (it->second.until <= now) {
    entries_.erase(it);
    return std::nullopt;
  }
  if (cost < it->second.cost) return std::nullopt; // a cheaper request may still fit
  return it->second;
}

void over_limit_cache::forget(const std::string& policy, const std::string& key) {
  entries_.erase(entry_name(policy, key));
}

void over_limit_cache::sweep(clock::time_point now) {
  for (auto it = entries_.begin(); it != entries_.end();)
    it = it->second.until <= now ? entries_.erase(it) : std::next(it);
}

} // namespace baton::rate
