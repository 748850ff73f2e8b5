// The rate scripts' reply; see rate_reply.hpp.
#include "services/rate/rate_reply.hpp"

#include <algorithm>

namespace baton::rate {

using redis_link::redis_reply;
using redis_link::reply_kind;

bool read_rate_reply(const redis_reply& r, rate_decision& d) {
  if (r.kind != reply_kind::array || r.elements.size() != 5) return false;
  if (!std::all_of(r.elements.begin(), r.elements.end(),
                   [](const redis_reply& e) { return e.kind == reply_kind::integer; }))
    return false;
  d.allowed = r.elements[0].integer == 1;
  d.remaining = r.elements[1].integer;
  d.reset_ms = r.elements[2].integer;
  d.retry_after_ms = r.elements[3].integer;
  return true;
}

} // namespace baton::rate
