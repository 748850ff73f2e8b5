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

} // namespace baton
