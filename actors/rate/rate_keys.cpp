// Rate-limit key names; see rate_keys.hpp.
#include "actors/rate/rate_keys.hpp"

#include "actors/redis_link/script_registry.hpp"

namespace baton::rate {

std::string policy_fingerprint(const rate_policy& policy) {
  std::string shape = policy.algorithm;
  for (const auto& w : policy.windows)
    shape += ";" + std::to_string(w.window.count()) + "/" + std::to_string(w.limit);
  return redis_link::sha1_hex(shape).substr(0, 8);
}

std::string state_key(const std::string& prefix, const rate_policy& policy,
                      const std::string& fingerprint, const std::string& key) {
  return prefix + ":rate:" + policy.name + ":" + fingerprint + ":{" + key + "}";
}

std::string events_channel(const std::string& prefix) {
  return prefix + ":rate-events";
}

} // namespace baton::rate
