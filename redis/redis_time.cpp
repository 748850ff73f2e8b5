// The time script's reply; see redis_time.hpp.
#include "redis/redis_time.hpp"

#include <limits>

namespace baton::redis_link {

std::optional<std::int64_t> read_redis_time_us(const redis_reply& r) {
  if (r.kind != reply_kind::array || r.elements.size() != 2) return std::nullopt;
  const auto& seconds = r.elements[0];
  const auto& micros = r.elements[1];
  // Only two integers a clock can show are Redis' TIME: any other reply (a huge count of
  // seconds overflowed the product, found by fuzz/script_replies_fuzz) is unexpected.
  constexpr std::int64_t max_seconds = std::numeric_limits<std::int64_t>::max() / 1000000 - 1;
  if (seconds.kind != reply_kind::integer || micros.kind != reply_kind::integer ||
      seconds.integer < 0 || seconds.integer > max_seconds || micros.integer < 0 ||
      micros.integer > 999999)
    return std::nullopt;
  return seconds.integer * 1000000 + micros.integer;
}

} // namespace baton::redis_link
