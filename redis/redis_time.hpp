// Reading the reply of lua/time.lua (Redis' clock, for DEBUG RTT), apart from its caller, so
// every reply shape Redis could send can be tested and fuzzed.
#pragma once

#include <cstdint>
#include <optional>

#include "redis/redis_reply.hpp"

namespace baton::redis_link {

/// {seconds, microseconds} as microseconds since the epoch; nullopt for any other shape or
/// for values no clock shows (negative, or seconds whose microseconds overflow 64 bits).
std::optional<std::int64_t> read_redis_time_us(const redis_reply& r);

} // namespace baton::redis_link
