// Decoders of Redis scripts' replies, on shapes the scripts never send (found by fuzzing
// with fuzz/script_replies_fuzz) as well as their own.
#include <catch2/catch.hpp>

#include "redis/redis_time.hpp"
#include "services/rate/rate_reply.hpp"

using namespace baton;
using redis_link::redis_reply;
using redis_link::reply_kind;

namespace {
redis_reply integer(std::int64_t value) {
  redis_reply r;
  r.kind = reply_kind::integer;
  r.integer = value;
  return r;
}
redis_reply array(std::vector<redis_reply> elements) {
  redis_reply r;
  r.kind = reply_kind::array;
  r.elements = std::move(elements);
  return r;
}
} // namespace

TEST_CASE("the time script's reply is read as microseconds") {
  CHECK(redis_link::read_redis_time_us(array({integer(1733050000), integer(123456)})) ==
        1733050000123456);
  CHECK_FALSE(redis_link::read_redis_time_us(array({integer(1)})));
  CHECK_FALSE(redis_link::read_redis_time_us(redis_reply::unavailable("down")));
}

TEST_CASE("a time reply no clock shows is refused, not overflowed") {
  // fuzz/corpus/script_replies/regression_time_reply_overflow: seconds * 10^6 overflowed.
  CHECK_FALSE(redis_link::read_redis_time_us(array({integer(17330353358058), integer(0)})));
  CHECK_FALSE(redis_link::read_redis_time_us(array({integer(-1), integer(0)})));
  CHECK_FALSE(redis_link::read_redis_time_us(array({integer(1), integer(1000000)})));
  redis_reply text;
  text.kind = reply_kind::string;
  text.str = "1733050000";
  CHECK_FALSE(redis_link::read_redis_time_us(array({text, integer(0)})));
}

TEST_CASE("the rate scripts' reply is five integers") {
  rate::rate_decision d;
  REQUIRE(rate::read_rate_reply(
      array({integer(0), integer(0), integer(1200), integer(350), integer(1)}), d));
  CHECK_FALSE(d.allowed);
  CHECK(d.reset_ms == 1200);
  CHECK(d.retry_after_ms == 350);
  CHECK_FALSE(rate::read_rate_reply(array({integer(1), integer(2)}), d));
  auto wrong_type = array({integer(1), integer(2), integer(3), integer(4), integer(5)});
  wrong_type.elements[2].kind = reply_kind::string;
  CHECK_FALSE(rate::read_rate_reply(wrong_type, d));
}
