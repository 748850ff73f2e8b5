// The time script's reply; see redis_time.hpp.
#include "redis/redis_time.hpp"

namespace baton::redis_link {

std::optional<std::int64_t> read_redis_time_us(const redis_reply& r) {
  if (r.kind != reply_kind::array || r.elements.size() != 2) return std::nullopt;
  return r.elements[0].integer * 1000000 + r.elements[1].integer;
}

} // namespace baton::redis_link
