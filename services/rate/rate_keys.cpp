// Rate-limit key names; see rate_keys.hpp.
#include "services/rate/rate_keys.hpp"

#include "redis/script_registry.hpp"

namespace baton::rate {

std::string state_key_prefix(const std::string& prefix, const rate_policy& policy) {
  std::string shape = policy.algorithm;
  for (const auto& w : policy.windows)
    shape += ";" + std::to_string(w.window.count()) + "/" + std::to_string(w.limit);
  return prefix + ":rate:" + policy.name + ":" + redis_link::sha1_hex(shape).substr(0, 8) + ":{";
}

std::string events_channel(const std::string& prefix) {
  return prefix + ":rate-events";
}

} // namespace baton::rate
