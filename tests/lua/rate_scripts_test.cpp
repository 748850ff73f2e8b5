// lua/rate_*.lua on a real redis-server: exact admission at the limit, all windows checked
// and nothing charged when one refuses, refill with time, peek, expiry, and memory per key.
#include <catch2/catch.hpp>

#include <thread>

#include "tests/support/script_runner.hpp"
#include "tests/support/test_redis.hpp"

using namespace baton;
using protocol::resp_value;
using namespace std::chrono_literals;

namespace {

// As rate_keys names them: prefix, policy, the policy's shape fingerprint, {caller's key}.
const std::string key = "baton:rate:api:5f1c09ab:{user-1}";

struct rate_fixture {
  test::test_redis redis;
  test::script_runner lua{redis.socket_path()};

  resp_value check(const std::string& algorithm, const std::vector<std::string>& windows,
                   int cost = 1, const std::string& mode = "charge") {
    std::vector<std::string> args{std::to_string(cost), mode};
    args.insert(args.end(), windows.begin(), windows.end());
    return lua.run("rate_" + algorithm, {key}, args);
  }
  resp_value gcra(const std::vector<std::string>& windows, int cost = 1,
                  const std::string& mode = "charge") {
    return check("gcra", windows, cost, mode);
  }
  /// Redis TIME in microseconds: the clock the scripts use.
  std::int64_t redis_now_us() {
    auto t = lua.call({"TIME"});
    return std::stoll(t.elements.at(0).str) * 1000000 + std::stoll(t.elements.at(1).str);
  }
  /// Sleeps until Redis TIME is `offset_us` into the next window of `window_us`.
  void align(std::int64_t window_us, std::int64_t offset_us) {
    auto now = redis_now_us();
    auto next = (now / window_us + 1) * window_us + offset_us;
    std::this_thread::sleep_for(std::chrono::microseconds(next - now));
  }
  /// Makes sure at least `need_us` are left of the current window of `window_us`, so that a
  /// test of the window-aligned algorithms does not straddle a boundary by accident (windows
  /// of a minute also end at every hour and day).
  void avoid_boundary(std::int64_t window_us, std::int64_t need_us) {
    auto now = redis_now_us();
    if (window_us - now % window_us < need_us) align(window_us, 1000);
  }
};

const std::vector<std::string> all_algorithms{"gcra", "sliding_window", "sliding_log",
                                              "fixed_window"};

bool allowed(const resp_value& r) {
  return r.elements.at(0).integer == 1;
}
std::int64_t remaining(const resp_value& r) {
  return r.elements.at(1).integer;
}
std::int64_t retry_after(const resp_value& r) {
  return r.elements.at(3).integer;
}

} // namespace

TEST_CASE_METHOD(rate_fixture, "gcra admits exactly the limit at once, then refuses") {
  const std::vector<std::string> hour_of_7{"3600000", "7"}; // 7 does not divide an hour in us
  for (int i = 0; i < 7; ++i) {
    auto r = gcra(hour_of_7);
    REQUIRE(allowed(r));
    CHECK(remaining(r) == 6 - i);
  }
  auto refused = gcra(hour_of_7);
  CHECK_FALSE(allowed(refused));
  CHECK(remaining(refused) == 0);
  CHECK(refused.elements[4].integer == 1);
  // The next request fits in one emission interval: an hour / 7.
  CHECK(retry_after(refused) > 3600000 / 7 - 1000);
  CHECK(retry_after(refused) <= 3600000 / 7 + 1);
}

TEST_CASE_METHOD(rate_fixture, "gcra refills one request per interval") {
  const std::vector<std::string> second_of_10{"1000", "10"};
  for (int i = 0; i < 10; ++i)
    REQUIRE(allowed(gcra(second_of_10)));
  REQUIRE_FALSE(allowed(gcra(second_of_10)));
  auto start = std::chrono::steady_clock::now();
  std::this_thread::sleep_for(250ms); // two intervals of 100 ms, and some
  int admitted = 0;
  while (allowed(gcra(second_of_10)))
    ++admitted;
  auto elapsed = std::chrono::duration_cast<std::chrono::milliseconds>(
                     std::chrono::steady_clock::now() - start)
                     .count();
  INFO("admitted " << admitted << " after " << elapsed << " ms");
  CHECK(admitted >= 2);                 // at least the two intervals slept
  CHECK(admitted <= elapsed / 100 + 1); // never faster than one per interval
}

TEST_CASE_METHOD(rate_fixture, "all windows are checked: a refusal charges none of them") {
  // 5 per minute, 3 per hour, 10 per day: the hour refuses the fourth request.
  const std::vector<std::string> three{"60000", "5", "3600000", "3", "86400000", "10"};
  for (int i = 0; i < 3; ++i)
    REQUIRE(allowed(gcra(three)));
  auto before = lua.call({"GET", key}).str;
  auto refused = gcra(three);
  CHECK_FALSE(allowed(refused));
  CHECK(refused.elements[4].integer == 2);     // the hour window refused
  CHECK(lua.call({"GET", key}).str == before); // minute and day were not charged
  // The tightest window is reported: the hour, with nothing left.
  CHECK(remaining(refused) == 0);
  // A cost that only the day could take is refused whole.
  CHECK_FALSE(allowed(gcra({"86400000", "10", "3600000", "3"}, 2)));
}

TEST_CASE_METHOD(rate_fixture, "peek answers without charging: costs count as many requests") {
  const std::vector<std::string> minute_of_10{"60000", "10"};
  auto peeked = gcra(minute_of_10, 1, "peek");
  CHECK(allowed(peeked));
  CHECK(remaining(peeked) == 9); // what would be left after this request
  CHECK(lua.call({"EXISTS", key}).integer == 0);
  REQUIRE(allowed(gcra(minute_of_10, 4)));
  CHECK(remaining(gcra(minute_of_10, 1, "peek")) == 5);
  REQUIRE(allowed(gcra(minute_of_10, 6)));
  CHECK_FALSE(allowed(gcra(minute_of_10)));
}

TEST_CASE_METHOD(rate_fixture, "the key expires when every window is full again") {
  REQUIRE(allowed(gcra({"300", "3", "1000", "5"})));
  auto ttl = lua.call({"PTTL", key}).integer;
  CHECK(ttl > 0);
  CHECK(ttl <= 201); // one request of the 1 s window: 200 ms until it is full again
  std::this_thread::sleep_for(300ms);
  CHECK(lua.call({"EXISTS", key}).integer == 0);
}

// -- every algorithm --------------------------------------------------------------------

TEST_CASE_METHOD(rate_fixture, "every algorithm admits exactly the limit in a fresh window") {
  auto algorithm = GENERATE_COPY(from_range(all_algorithms));
  INFO(algorithm);
  avoid_boundary(2000 * 1000, 500 * 1000);
  const std::vector<std::string> two_seconds_of_9{"2000", "9"};
  for (int i = 0; i < 9; ++i) {
    auto r = check(algorithm, two_seconds_of_9);
    REQUIRE(allowed(r));
    CHECK(remaining(r) == 8 - i);
  }
  auto refused = check(algorithm, two_seconds_of_9);
  CHECK_FALSE(allowed(refused));
  CHECK(remaining(refused) == 0);
  CHECK(refused.elements[4].integer == 1);
  CHECK(retry_after(refused) > 0);
  // sliding_window: the full previous window still weighs at the start of the next one.
  CHECK(retry_after(refused) <= (algorithm == "sliding_window" ? 4000 : 2000) + 1);
  CHECK(refused.elements[2].integer > 0); // reset
  CHECK(refused.elements[2].integer <= 4000 + 1);
}

TEST_CASE_METHOD(rate_fixture, "every algorithm: a refusal by one window charges no window") {
  auto algorithm = GENERATE_COPY(from_range(all_algorithms));
  INFO(algorithm);
  avoid_boundary(60 * 1000000LL, 2 * 1000000LL);
  // 5 per minute, 3 per hour, 10 per day: the hour refuses the fourth request.
  const std::vector<std::string> three{"60000", "5", "3600000", "3", "86400000", "10"};
  for (int i = 0; i < 3; ++i)
    REQUIRE(allowed(check(algorithm, three)));
  auto before =
      algorithm == "sliding_log" ? lua.call({"ZCARD", key}).integer : static_cast<std::int64_t>(0);
  auto before_text = algorithm == "sliding_log" ? std::string() : lua.call({"GET", key}).str;
  auto refused = check(algorithm, three);
  CHECK_FALSE(allowed(refused));
  CHECK(refused.elements[4].integer == 2); // the hour window refused
  if (algorithm == "sliding_log")
    CHECK(lua.call({"ZCARD", key}).integer == before);
  else
    CHECK(lua.call({"GET", key}).str == before_text);
  // The minute still has room for two: peek says so without charging.
  auto minute_only = check(algorithm, {"60000", "5"}, 1, "peek");
  CHECK(remaining(minute_only) == 1);
  // A cost only the day could take is refused whole.
  CHECK_FALSE(allowed(check(algorithm, {"86400000", "10", "3600000", "3"}, 2)));
}

TEST_CASE_METHOD(rate_fixture, "every algorithm: peek charges nothing, cost counts n requests") {
  auto algorithm = GENERATE_COPY(from_range(all_algorithms));
  INFO(algorithm);
  avoid_boundary(60 * 1000000LL, 2 * 1000000LL);
  const std::vector<std::string> minute_of_10{"60000", "10"};
  auto peeked = check(algorithm, minute_of_10, 1, "peek");
  CHECK(allowed(peeked));
  CHECK(remaining(peeked) == 9);
  CHECK(lua.call({"EXISTS", key}).integer == 0);
  REQUIRE(allowed(check(algorithm, minute_of_10, 4)));
  CHECK(remaining(check(algorithm, minute_of_10, 1, "peek")) == 5);
  REQUIRE(allowed(check(algorithm, minute_of_10, 6)));
  CHECK_FALSE(allowed(check(algorithm, minute_of_10)));
  if (algorithm == "sliding_log") CHECK(lua.call({"ZCARD", key}).integer == 10);
}

TEST_CASE_METHOD(rate_fixture, "every algorithm's key expires once its windows are over") {
  auto algorithm = GENERATE_COPY(from_range(all_algorithms));
  INFO(algorithm);
  avoid_boundary(300 * 1000, 100 * 1000);
  REQUIRE(allowed(check(algorithm, {"300", "3", "150", "5"})));
  auto ttl = lua.call({"PTTL", key}).integer;
  CHECK(ttl > 0);
  CHECK(ttl <= 601); // sliding_window keeps the previous window: two windows at most
  std::this_thread::sleep_for(std::chrono::milliseconds(ttl + 20));
  CHECK(lua.call({"EXISTS", key}).integer == 0);
}

// -- per algorithm ----------------------------------------------------------------------

TEST_CASE_METHOD(rate_fixture, "fixed_window starts from zero in the next window") {
  align(500 * 1000, 1000);
  const std::vector<std::string> half_second_of_4{"500", "4"};
  for (int i = 0; i < 4; ++i)
    REQUIRE(allowed(check("fixed_window", half_second_of_4)));
  auto refused = check("fixed_window", half_second_of_4);
  REQUIRE_FALSE(allowed(refused));
  // retry-after is the end of this window: about 499 ms after the aligned start.
  CHECK(retry_after(refused) <= 500);
  CHECK(retry_after(refused) >= 400);
  std::this_thread::sleep_for(std::chrono::milliseconds(retry_after(refused) + 5));
  for (int i = 0; i < 4; ++i)
    REQUIRE(allowed(check("fixed_window", half_second_of_4)));
  CHECK_FALSE(allowed(check("fixed_window", half_second_of_4)));
}

TEST_CASE_METHOD(rate_fixture, "sliding_window weighs the previous window by its overlap") {
  const std::int64_t window_us = 1000 * 1000;
  const std::vector<std::string> second_of_20{"1000", "20"};
  align(window_us, 5000);
  for (int i = 0; i < 20; ++i)
    REQUIRE(allowed(check("sliding_window", second_of_20)));
  REQUIRE_FALSE(allowed(check("sliding_window", second_of_20)));
  // Halfway into the next window half of the previous count still weighs: about 10 fit.
  align(window_us, window_us / 2);
  auto from = redis_now_us() % window_us;
  int admitted = 0;
  while (allowed(check("sliding_window", second_of_20)))
    ++admitted;
  auto to = redis_now_us() % window_us;
  INFO("admitted " << admitted << " between " << from << " and " << to << " us into the window");
  // prev * (1 - f) + admitted <= 20 at the last admission, > 20 at the refusal.
  CHECK(admitted >= static_cast<int>(20.0 * from / window_us) - 1);
  CHECK(admitted <= static_cast<int>(20.0 * to / window_us) + 1);
}

TEST_CASE_METHOD(rate_fixture, "sliding_log is exact: each request leaves its window on time") {
  const std::vector<std::string> window_of_3{"400", "3"};
  REQUIRE(allowed(check("sliding_log", window_of_3)));
  std::this_thread::sleep_for(100ms);
  REQUIRE(allowed(check("sliding_log", window_of_3)));
  REQUIRE(allowed(check("sliding_log", window_of_3)));
  auto refused = check("sliding_log", window_of_3);
  REQUIRE_FALSE(allowed(refused));
  // The first request leaves first, about 300 ms from now; then exactly one more fits.
  CHECK(retry_after(refused) <= 300 + 1);
  CHECK(retry_after(refused) >= 200);
  std::this_thread::sleep_for(std::chrono::milliseconds(retry_after(refused) + 5));
  CHECK(allowed(check("sliding_log", window_of_3)));
  CHECK_FALSE(allowed(check("sliding_log", window_of_3)));
  // The set holds no more entries than the limit, refusals or not.
  for (int i = 0; i < 10; ++i)
    check("sliding_log", window_of_3);
  CHECK(lua.call({"ZCARD", key}).integer <= 3);
}

TEST_CASE_METHOD(rate_fixture, "rate_reset deletes the state and announces it") {
  REQUIRE(allowed(gcra({"60000", "10"})));
  protocol::resp_client listener(redis.socket_path());
  listener.call({"SUBSCRIBE", "baton:rate-events"});
  CHECK(lua.run("rate_reset", {key}, {"baton:rate-events", "reset api user-1"}).integer == 1);
  auto message = listener.read();
  REQUIRE(message.elements.size() == 3);
  CHECK(message.elements[2].str == "reset api user-1");
  CHECK(lua.call({"EXISTS", key}).integer == 0);
  CHECK(lua.run("rate_reset", {key}, {"baton:rate-events", "reset api user-1"}).integer == 0);
}

TEST_CASE_METHOD(rate_fixture, "memory per active key with three windows") {
  auto algorithm =
      GENERATE_COPY(from_range(std::vector<std::string>{"gcra", "sliding_window", "fixed_window"}));
  REQUIRE(allowed(check(algorithm, {"60000", "100", "3600000", "1000", "86400000", "10000"})));
  auto bytes = lua.call({"MEMORY", "USAGE", key}).integer;
  INFO(algorithm << ": MEMORY USAGE " << bytes);
  CHECK(bytes > 0);
  CHECK(bytes <= 200);
}
