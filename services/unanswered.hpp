// The answer to a state change Redis did not answer, shared by the families: UNAVAILABLE when
// the call never left (it certainly did not run), UNKNOWN when it was sent (Redis may have run
// it, or may still), with what the caller should do to find out. DESIGN.md: a reply never
// says "not done" for something that may have been done.
#pragma once

#include <string>

#include "protocol/result.hpp"
#include "redis/redis_reply.hpp"

namespace baton {

/// For an `unavailable` reply `r`; `advice` ends the UNKNOWN sentence ("send the same ... again").
inline protocol::failure unanswered(const redis_link::redis_reply& r, const std::string& advice) {
  auto why = r.str.empty() ? std::string("no answer in time") : r.str;
  if (r.outcome_unknown())
    return protocol::fail(protocol::error_code::unknown,
                          "redis did not answer in time (" + why + "); " + advice);
  return protocol::fail(protocol::error_code::unavailable, why);
}

/// A reply of a shape the caller did not expect: Redis' own refusal as ERR (a WRONGTYPE on a
/// key someone else wrote), an unavailable one as UNAVAILABLE, anything else as UNAVAILABLE
/// too (a Redis that answers nonsense cannot be used).
inline protocol::failure unexpected_reply(const redis_link::redis_reply& r) {
  if (r.is_unavailable()) return protocol::fail(protocol::error_code::unavailable, r.str);
  if (r.kind == redis_link::reply_kind::error)
    return protocol::fail(protocol::error_code::err, "redis refused: " + r.str);
  return protocol::fail(protocol::error_code::unavailable, "unexpected reply from redis");
}

} // namespace baton
