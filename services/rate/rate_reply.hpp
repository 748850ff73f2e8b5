// Reading the reply of the rate scripts (lua/rate_*.lua), apart from the service, so every
// reply shape Redis could send (errors, wrong types, wrong sizes) can be tested and fuzzed.
#pragma once

#include "redis/redis_reply.hpp"
#include "services/rate/rate_service.hpp"

namespace baton::rate {

/// The scripts' reply: {allowed, remaining, reset_ms, retry_after_ms, refusing window}, all
/// integers. Fills the decision's allowed, remaining, reset_ms and retry_after_ms; false (and
/// `d` untouched) for any other shape.
bool read_rate_reply(const redis_link::redis_reply& r, rate_decision& d);

} // namespace baton::rate
