// Fencing tokens never go backwards, even when Redis comes back without its data (a restart
// without persistence, a failover to a replica that missed the last writes) and with its clock
// behind, so that neither the fence key nor Redis TIME lifts the next token above the last.
// Real redis-server and batond, their wall clocks moved a day back
// (tests/support/clock_shift.cpp).
#include <catch2/catch.hpp>

#include <cstdlib>
#include <fstream>
#include <thread>

#include "protocol/resp_client.hpp"
#include "tests/support/reply_fields.hpp"
#include "tests/support/test_batond.hpp"

using namespace baton;
using protocol::resp_client;
using test::field;
using namespace std::chrono_literals;

namespace {

constexpr long day = 24 * 3600;

std::int64_t acquire(const test::test_batond& daemon, const std::string& name) {
  resp_client c(daemon.socket_path());
  auto reply = c.call({"LEASE", "ACQUIRE", name, "60000"});
  INFO(reply.to_string());
  return field(reply, "token");
}

// Redis' clock in seconds, as its TIME says.
std::int64_t redis_seconds(const test::test_redis& redis) {
  return std::atoll(redis.cli({"TIME"}).c_str());
}

// Empties Redis and starts it again with its clock a day behind.
void lose_data_and_step_back(test::test_redis& redis) {
  redis.kill(); // no persistence: it comes back empty
  redis.run_under(test::clock_shift_wrapper(-day));
  redis.start();
  REQUIRE(redis.cli({"EXISTS", "baton:lease:{job}:fence"}) == "0");
}

} // namespace

TEST_CASE("a restarted daemon grants above its earlier tokens when Redis came back empty with "
          "its clock behind") {
  test::test_redis redis;
  test::temp_dir state;
  // The same node, restarted with the same state directory.
  std::vector<std::string> node = {"--node-id", "floor-node", "--state-dir", state.path()};
  std::int64_t first = 0;
  SECTION("after a clean stop") {
    test::test_batond daemon(redis.unix_url(), node);
    first = acquire(daemon, "job");
    REQUIRE(daemon.stop() == 0);
  }
  SECTION("after a kill -9 a second after the grant") {
    test::test_batond daemon(redis.unix_url(), node);
    first = acquire(daemon, "job");
    // The floor is written within a second of a grant (off the request's path).
    auto kept = [&] {
      std::ifstream in(state.file("token-floor.floor-node"));
      std::int64_t value = 0;
      return in >> value && value >= first;
    };
    REQUIRE(test::eventually(kept, 10000));
    daemon.kill();
  }
  lose_data_and_step_back(redis);
  REQUIRE(redis_seconds(redis) < first / 1000000 - 80000);
  // The daemon's clock is a day behind as well: only the floor it kept can save the token.
  test::test_batond restarted(redis.unix_url(), node, test::clock_shift_wrapper(-day));
  auto second = acquire(restarted, "job");
  CHECK(second > first);
  // And the next grant grows again. acquire's connection closed, which releases the lease,
  // but the release runs after the close: the next acquire waits until it has.
  resp_client probe(restarted.socket_path());
  REQUIRE(test::eventually(
      [&] { return probe.call({"LEASE", "INFO", "job"}).kind == protocol::resp_value::type::null; },
      5000));
  CHECK(acquire(restarted, "job") > second);
}

TEST_CASE("a daemon that never saw a name grants above tokens another daemon got, when Redis "
          "came back empty with its clock behind") {
  test::test_redis redis;
  std::int64_t first = 0;
  {
    test::test_batond daemon(redis.unix_url(), {"--node-id", "first-node"});
    first = acquire(daemon, "job");
  }
  lose_data_and_step_back(redis);
  // Its own clock is right (NTP): that lifts the token above what Redis' old clock gave.
  test::test_batond other(redis.unix_url(), {"--node-id", "other-node"});
  CHECK(acquire(other, "job") > first);
}
