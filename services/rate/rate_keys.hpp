// Where rate-limit state lives in Redis. A key's name carries a fingerprint of its policy's
// algorithm and windows, so that a changed policy starts from fresh state instead of
// reading another algorithm's or another window's counts. The caller's key is the hash tag:
// keys of one policy spread over a Redis Cluster.
#pragma once

#include <string>

#include "services/rate/rate_policy.hpp"

namespace baton::rate {

/// "<prefix>:rate:<policy>:<fingerprint>:{", where the fingerprint is 8 hex digits of SHA-1
/// over the algorithm and the windows. A key's state lives at that + key + "}"; computed once
/// per policy, since it is the same for every key.
std::string state_key_prefix(const std::string& prefix, const rate_policy& policy);

/// Where RATE RESET is announced to every daemon: "reset <policy> <key>".
std::string events_channel(const std::string& prefix);

} // namespace baton::rate
