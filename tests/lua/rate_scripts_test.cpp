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

const std::string key = "baton:rate:{api}:user-1";

struct rate_fixture {
  test::test_redis redis;
  test::script_runner lua{redis.socket_path()};

  resp_value gcra(const std::vector<std::string>& windows, int cost = 1,
                  const std::string& mode = "charge") {
    std::vector<std::string> args{std::to_string(cost), mode};
    args.insert(args.end(), windows.begin(), windows.end());
    return lua.run("rate_gcra", {key}, args);
  }
};

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

TEST_CASE_METHOD(rate_fixture, "all windows are checked; a refusal charges none of them") {
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

TEST_CASE_METHOD(rate_fixture, "peek answers without charging; costs count as many requests") {
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

TEST_CASE_METHOD(rate_fixture, "an active gcra key with three windows costs under 200 bytes") {
  REQUIRE(allowed(gcra({"60000", "100", "3600000", "1000", "86400000", "10000"})));
  auto bytes = lua.call({"MEMORY", "USAGE", key}).integer;
  INFO("MEMORY USAGE " << bytes);
  CHECK(bytes > 0);
  CHECK(bytes <= 200);
}
