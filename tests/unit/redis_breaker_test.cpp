// The breaker around Redis, on a simulated clock.
#include <catch2/catch.hpp>

#include "redis/redis_breaker.hpp"

using baton::redis_link::redis_breaker;
using namespace std::chrono_literals;

TEST_CASE("the breaker opens after consecutive failures and probes after the cooldown") {
  redis_breaker b(3, 100ms, 1000ms);
  redis_breaker::clock::time_point t{};
  CHECK(b.allow(t));
  b.on_failure(t);
  b.on_failure(t);
  b.on_success(); // resets the count
  b.on_failure(t);
  b.on_failure(t);
  CHECK(b.current() == redis_breaker::state::closed);
  b.on_failure(t);
  CHECK(b.current() == redis_breaker::state::open);
  CHECK_FALSE(b.allow(t + 99ms));
  CHECK(b.allow(t + 100ms)); // the probe
  CHECK(b.current() == redis_breaker::state::half_open);
  CHECK_FALSE(b.allow(t + 101ms)); // one probe at a time
  b.on_failure(t + 110ms);         // probe failed: open again, cooldown doubled
  CHECK(b.current() == redis_breaker::state::open);
  CHECK_FALSE(b.allow(t + 300ms));
  CHECK(b.allow(t + 310ms));
  b.on_success();
  CHECK(b.current() == redis_breaker::state::closed);
  CHECK(b.allow(t + 311ms));
}

TEST_CASE("trip opens the breaker at once") {
  redis_breaker b(5, 50ms, 500ms);
  redis_breaker::clock::time_point t{};
  b.trip(t);
  CHECK_FALSE(b.allow(t + 10ms));
  CHECK(b.allow(t + 50ms));
}
