// Leader election on leases, through two real daemons: one leader at a time, terms that only
// grow, handover on RESIGN (woken by the release announcement), and takeover after the
// leader's daemon is killed (at its TTL plus at most one renewal interval).
#include <catch2/catch.hpp>

#include <future>
#include <thread>

#include "protocol/resp_client.hpp"
#include "tests/support/reply_fields.hpp"
#include "tests/support/test_backend.hpp"
#include "tests/support/test_batond.hpp"

using namespace baton;
using protocol::resp_client;
using protocol::resp_value;
using test::field;
using test::text_field;
using namespace std::chrono_literals;

namespace {} // namespace

TEST_CASE("ELECT: one leader: RESIGN hands over at once to the waiting candidate", "[portable]") {
  test::test_backend redis;
  test::test_batond a(redis.url(), {"--node-id", "a"});
  test::test_batond b(redis.url(), {"--node-id", "b"});
  resp_client first(a.socket_path());
  auto led = first.call({"ELECT", "JOIN", "billing", "worker-a"});
  REQUIRE(led.kind == resp_value::type::array);
  auto term1 = field(led, "term");
  resp_client observer(b.socket_path());
  auto leader = observer.call({"ELECT", "LEADER", "billing"});
  CHECK(text_field(leader, "candidate") == "worker-a");
  CHECK(text_field(leader, "node") == "a");
  CHECK(field(leader, "term") == term1);

  resp_client second(b.socket_path());
  auto joined = std::async(std::launch::async, [&] {
    auto r = second.call({"ELECT", "JOIN", "billing", "worker-b", "TIMEOUT", "5000"});
    return std::make_pair(r, std::chrono::steady_clock::now());
  });
  std::this_thread::sleep_for(300ms);
  CHECK(joined.wait_for(0ms) == std::future_status::timeout); // still waiting its turn
  auto resigned_at = std::chrono::steady_clock::now();        // before RESIGN is even sent
  CHECK(first.call({"ELECT", "RESIGN", "billing"}).str == "OK");
  auto [r, at] = joined.get();
  REQUIRE(r.kind == resp_value::type::array);
  CHECK(field(r, "term") > term1);
  auto handover = at - resigned_at;
  auto handover_ms =
      std::chrono::duration_cast<std::chrono::microseconds>(handover).count() / 1000.0;
  INFO("handover took " << handover_ms << " ms");
  CHECK(handover < 50ms);
  CHECK(text_field(observer.call({"ELECT", "LEADER", "billing"}), "candidate") == "worker-b");
  CHECK(first.call({"ELECT", "RESIGN", "billing"}).str.rfind("NOTHELD", 0) == 0);
}

TEST_CASE("ELECT: the leader's daemon dies: a candidate takes over within ttl + one renewal",
          "[portable]") {
  test::test_backend redis;
  auto a =
      std::make_unique<test::test_batond>(redis.url(), std::vector<std::string>{"--node-id", "a"});
  test::test_batond b(redis.url(), {"--node-id", "b"});
  resp_client leader(a->socket_path());
  auto led = leader.call({"ELECT", "JOIN", "jobs", "worker-a", "TTL", "1000"});
  REQUIRE(led.kind == resp_value::type::array);
  resp_client candidate(b.socket_path());
  auto joined = std::async(std::launch::async, [&] {
    auto r =
        candidate.call({"ELECT", "JOIN", "jobs", "worker-b", "TTL", "1000", "TIMEOUT", "5000"});
    return std::make_pair(r, std::chrono::steady_clock::now());
  });
  std::this_thread::sleep_for(1500ms); // KEEP renews past the TTL meanwhile
  CHECK(joined.wait_for(0ms) == std::future_status::timeout);
  a->kill();
  auto killed = std::chrono::steady_clock::now();
  auto [r, at] = joined.get();
  REQUIRE(r.kind == resp_value::type::array);
  CHECK(field(r, "term") > field(led, "term"));
  auto takeover_ms = std::chrono::duration_cast<std::chrono::milliseconds>(at - killed).count();
  INFO("takeover took " << takeover_ms << " ms");
  CHECK(at - killed < 1000ms + 333ms + 150ms); // ttl + renewal interval (ttl/3) + slack
}

TEST_CASE("ELECT: bad input", "[portable]") {
  test::test_backend redis;
  test::test_batond a(redis.url());
  resp_client c(a.socket_path());
  CHECK(c.call({"ELECT", "JOIN", "g", "x", "TTL", "-1"}).str.rfind("ERR syntax error", 0) == 0);
  CHECK(c.call({"ELECT", "JOIN", "g", "x", "TTL", "0"}).str.rfind("ERR ttl must be between", 0) ==
        0);
  CHECK(c.call({"ELECT", "JOIN", "g", "x", "SOON"}).str.rfind("ERR syntax error", 0) == 0);
  CHECK(c.call({"ELECT", "JOIN", "a{b}", "x"}).str.rfind("ERR lease name must not contain", 0) ==
        0);
  CHECK(c.call({"ELECT", "RESIGN", "g"}).str.rfind("NOTHELD", 0) == 0);
  CHECK(c.call({"ELECT", "LEADER", "g"}).kind == resp_value::type::null);
}
