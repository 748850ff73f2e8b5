// lua/node_*.lua on a real redis-server: heartbeats keep a member listed and announce its
// join and drain; a member whose heartbeats stop is swept out by the next heartbeat of any
// node (and announced as expired); a clean leave is immediate.
#include <catch2/catch.hpp>

#include <algorithm>
#include <thread>

#include "tests/support/script_runner.hpp"
#include "tests/support/test_redis.hpp"

using namespace baton;
using protocol::resp_value;
using namespace std::chrono_literals;

namespace {

const std::string records = "baton:{nodes}";
const std::string seen = "baton:{nodes}:seen";
const std::string channel = "baton:node-events";

struct node_fixture {
  test::test_redis redis;
  test::script_runner lua{redis.socket_path()};

  resp_value beat(const std::string& id, const std::string& state = "active",
                  const std::string& ttl = "300") {
    return lua.run(
        "node_heartbeat", {records, seen},
        {id, "{\"state\":\"" + state + "\",\"address\":\"" + id + ":80\"}", ttl, channel, state});
  }
  resp_value list(const std::string& one = "", const std::string& ttl = "300") {
    return lua.run("node_list", {records, seen}, {ttl, one});
  }
};

std::vector<std::string> ids_of(const resp_value& listed) {
  std::vector<std::string> ids;
  for (std::size_t i = 1; i + 2 < listed.elements.size(); i += 3)
    ids.push_back(listed.elements[i].str);
  return ids;
}

} // namespace

TEST_CASE_METHOD(node_fixture, "heartbeats list members and announce joins and drains") {
  protocol::resp_client events(redis.socket_path());
  events.call({"SUBSCRIBE", channel});
  CHECK(beat("a").elements.at(1).integer == 1); // joined
  CHECK(beat("b").elements.at(1).integer == 1);
  CHECK(beat("a").elements.at(1).integer == 0); // already a member
  CHECK(events.read().elements.at(2).str == "join a");
  CHECK(events.read().elements.at(2).str == "join b");
  auto listed = list();
  auto ids = ids_of(listed);
  std::sort(ids.begin(), ids.end());
  CHECK(ids == std::vector<std::string>{"a", "b"});
  auto one = list("b");
  CHECK(one.elements.at(3).str.find("\"address\":\"b:80\"") != std::string::npos);
  CHECK(one.elements.at(2).integer < 100); // ms since b's heartbeat
  beat("a", "draining");
  CHECK(events.read().elements.at(2).str == "drain a");
  beat("a", "draining"); // no second announcement
  CHECK(lua.run("node_leave", {records, seen}, {"b", channel}).integer == 1);
  CHECK(events.read().elements.at(2).str == "leave b clean");
  CHECK(ids_of(list()) == std::vector<std::string>{"a"});
  CHECK(ids_of(list("a")) == std::vector<std::string>{"a"});
  CHECK(ids_of(list("b")).empty());
}

TEST_CASE_METHOD(node_fixture, "a member whose heartbeats stop is swept out after the TTL") {
  beat("a");
  beat("b");
  std::this_thread::sleep_for(200ms);
  beat("a");
  CHECK(ids_of(list()).size() == 2);
  std::this_thread::sleep_for(150ms); // b's last beat is now 350 ms old, TTL 300
  CHECK(ids_of(list()) == std::vector<std::string>{"a"}); // not listed, even before a sweep
  auto swept = beat("a");
  REQUIRE(swept.elements.size() == 3);
  CHECK(swept.elements[2].str == "b");
  CHECK(lua.call({"HEXISTS", records, "b"}).integer == 0);
  CHECK(lua.call({"ZSCORE", seen, "b"}).kind == resp_value::type::null);
  // b comes back: a join again.
  CHECK(beat("b").elements.at(1).integer == 1);
}
