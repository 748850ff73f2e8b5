// Membership with real daemons on a real redis-server: every daemon lists every live one,
// NODE DRAIN turns /readyz 503 at once and shows in every list, a daemon stopped cleanly
// leaves at once, one killed with -9 drops out after the heartbeat TTL; batonctl shows it.
#include <catch2/catch.hpp>

#include <fstream>
#include <memory>

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

namespace {

std::vector<std::string> node_ids(resp_client& c) {
  std::vector<std::string> ids;
  for (const auto& n : c.call({"NODE", "LIST"}).elements)
    ids.push_back(text_field(n, "id"));
  std::sort(ids.begin(), ids.end());
  return ids;
}

} // namespace

TEST_CASE("every daemon lists the live fleet: drain, clean stop, kill -9", "[portable]") {
  test::test_backend redis;
  test::temp_dir dir;
  std::ofstream(dir.file("m.yaml")) << "membership: {heartbeat_ms: 100, ttl_ms: 600, address: "
                                       "\"web:8080\"}\n";
  auto start = [&](const std::string& id) {
    return std::make_unique<test::test_batond>(
        redis.url(), std::vector<std::string>{"--node-id", id, "--config", dir.file("m.yaml")});
  };
  auto a = start("a");
  auto b = start("b");
  auto c = start("c");
  resp_client ca(a->socket_path());
  CHECK(test::eventually([&] { return node_ids(ca) == std::vector<std::string>{"a", "b", "c"}; }));
  auto me = ca.call({"NODE", "INFO"});
  CHECK(text_field(me, "id") == "a");
  CHECK(text_field(me, "address") == "web:8080");
  CHECK(text_field(me, "state") == "active");
  CHECK(field(me, "self") == 1);
  CHECK(field(me, "heartbeat_ms_ago") < 600);
  CHECK(field(ca.call({"NODE", "INFO", "b"}), "self") == 0);
  CHECK(ca.call({"NODE", "INFO", "nobody"}).kind == resp_value::type::null);

  // Drain b: its /readyz turns 503 at once, and every daemon sees it draining.
  REQUIRE(test::http_get(b->http_port(), "/readyz") == 200);
  resp_client cb(b->socket_path());
  auto drained = cb.call({"NODE", "DRAIN"});
  CHECK(text_field(drained, "state") == "draining");
  CHECK(field(drained, "announced") == 1);
  CHECK(test::http_get(b->http_port(), "/readyz") == 503);
  CHECK(text_field(ca.call({"NODE", "INFO", "b"}), "state") == "draining");
  std::string output;
  CHECK(test::run_command(std::string(BATONCTL_PATH) + " --socket " + a->socket_path() + " nodes",
                          &output) == 0);
  CHECK(output.find("draining") != std::string::npos);
  CHECK(output.find("(this one)") != std::string::npos);

  // A clean stop leaves at once; a kill -9 drops out after the TTL (600 ms).
  b->stop();
  CHECK(node_ids(ca) == std::vector<std::string>{"a", "c"});
  c->kill();
  auto killed = std::chrono::steady_clock::now();
  CHECK(node_ids(ca) == std::vector<std::string>{"a", "c"}); // within its TTL still listed
  CHECK(test::eventually([&] { return node_ids(ca) == std::vector<std::string>{"a"}; }, 3000));
  auto gone_after = std::chrono::steady_clock::now() - killed;
  CHECK(gone_after >= 400ms);
  CHECK(gone_after < 1500ms);
}

TEST_CASE("NODE bad input, batonctl drain --wait, and Redis down") {
  test::test_redis redis;
  test::test_batond a(redis.unix_url(), {"--node-id", "a"});
  resp_client c(a.socket_path());
  CHECK(c.call({"NODE", "DRAIN", "NOW"}).str == "ERR syntax error; expected NODE DRAIN [WAIT]");
  CHECK(c.call({"NODE", "INFO", "a", "b"}).str.rfind("ERR wrong number of arguments", 0) == 0);
  CHECK(c.call({"NODE", "LIST", "x"}).str.rfind("ERR wrong number of arguments", 0) == 0);
  std::string output;
  CHECK(test::run_command(std::string(BATONCTL_PATH) + " --socket " + a.socket_path() +
                              " drain --wait",
                          &output) == 0);
  CHECK(output.find("node a is draining") != std::string::npos);
  redis.kill();
  auto t = std::chrono::steady_clock::now();
  CHECK(c.call({"NODE", "LIST"}).str.rfind("UNAVAILABLE", 0) == 0);
  CHECK(std::chrono::steady_clock::now() - t < 1500ms);
}
