// This host's memory of keys that Redis said are over their limit: until the moment Redis
// said the same request could pass again, a repeated request is refused here without a
// round trip. That is what keeps an abusive client from costing Redis a call per request.
//
// It is conservative: an entry ends at (when the request was sent + retry-after), never
// later than Redis' own answer would change, and refuses only requests at least as costly as
// the one Redis refused. RATE RESET on any daemon drops the entry everywhere.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <unordered_map>

namespace baton::rate {

class over_limit_cache {
public:
  using clock = std::chrono::steady_clock;

  explicit over_limit_cache(std::size_t capacity = 100000) : capacity_(capacity) {}

  struct denial {
    clock::time_point until; ///< when the refused request would pass
    clock::time_point reset; ///< when the tightest window is full again
    std::int64_t cost = 0;   ///< the cost that was refused
  };

  /// Remembers a refusal. When full, expired entries are swept first; if none expired, the
  /// refusal is not remembered (the next request simply asks Redis).
  void remember(const std::string& policy, const std::string& key, denial d,
                clock::time_point now);
  /// The refusal for this request, if one is known and still holds.
  std::optional<denial> find(const std::string& policy, const std::string& key, std::int64_t cost,
                             clock::time_point now);
  void forget(const std::string& policy, const std::string& key);
  std::size_t size() const { return entries_.size(); }

private:
  static std::string entry_name(const std::string& policy, const std::string& key) {
    return policy + '\0' + key;
  }
  void sweep(clock::time_point now);

  std::size_t capacity_;
  std::unordered_map<std::string, denial> entries_;
};

} // namespace baton::rate
