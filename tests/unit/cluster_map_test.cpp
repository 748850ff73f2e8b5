// The Cluster rules a client must get exactly right without a server: key slots (checked
// against CLUSTER KEYSLOT on a real cluster in tests/topology/cluster_fixture_test.cpp),
// CLUSTER SLOTS replies, and redirects.
#include <catch2/catch.hpp>

#include "redis/cluster_map.hpp"

using namespace baton::redis_link;

namespace {

redis_reply integer(std::int64_t v) {
  redis_reply r;
  r.kind = reply_kind::integer;
  r.integer = v;
  return r;
}
redis_reply text(std::string s) {
  redis_reply r;
  r.kind = reply_kind::string;
  r.str = std::move(s);
  return r;
}
redis_reply list(std::vector<redis_reply> items) {
  redis_reply r;
  r.kind = reply_kind::array;
  r.elements = std::move(items);
  return r;
}
redis_reply node(const std::string& host, std::int64_t port) {
  return list({text(host), integer(port), text("id-" + std::to_string(port))});
}
redis_reply range(std::int64_t first, std::int64_t last, std::vector<redis_reply> nodes) {
  std::vector<redis_reply> items{integer(first), integer(last)};
  for (auto& n : nodes)
    items.push_back(std::move(n));
  return list(std::move(items));
}

} // namespace

TEST_CASE("a key's slot is CRC16 of its hash tag, or of the key, modulo 16384") {
  // Values from the Redis Cluster specification and CLUSTER KEYSLOT.
  CHECK(key_slot("123456789") == 0x31C3);
  CHECK(key_slot("foo") == 12182);
  CHECK(key_slot("") == 0);
  // Keys that share a tag share a slot; an empty tag does not count, only the first tag does.
  CHECK(key_slot("baton:lease:{job}") == key_slot("job"));
  CHECK(key_slot("baton:lease:{job}:fence") == key_slot("baton:lease:{job}"));
  CHECK(key_slot("{}job") == key_slot("{}job"));
  CHECK(key_slot("{}job") != key_slot("job"));
  CHECK(key_slot("a{}{b}") != key_slot("b"));
  CHECK(key_slot("{a}{b}") == key_slot("a"));
  CHECK(key_slot("{a") == key_slot(std::string_view("{a")));
  for (const char* k : {"x", "{user1000}.following", "baton:session:{abc}", "\xff\xfe"})
    CHECK(key_slot(k) < cluster_slots);
}

TEST_CASE("MOVED and ASK errors name the slot and the node") {
  auto moved = parse_redirect("MOVED 3999 127.0.0.1:6381", "10.0.0.9");
  REQUIRE(moved);
  CHECK_FALSE(moved->ask);
  CHECK(moved->slot == 3999);
  CHECK(moved->to.host == "127.0.0.1");
  CHECK(moved->to.port == 6381);

  auto ask = parse_redirect("ASK 12182 [::1]:7002", "h");
  REQUIRE(ask);
  CHECK(ask->ask);
  CHECK(ask->to.host == "::1");
  CHECK(ask->to.port == 7002);

  auto unknown_host = parse_redirect("MOVED 1 :7005", "10.0.0.9");
  REQUIRE(unknown_host);
  CHECK(unknown_host->to.host == "10.0.0.9"); // the node that answered

  for (const char* bad : {"MOVED", "MOVED 16384 h:1", "MOVED x h:1", "MOVED 1 h", "MOVED 1 h:0",
                          "ASK 1 h:99999", "ERR MOVED 1 h:1", "TRYAGAIN", "MOVED 1 h:1x"})
    CHECK_FALSE(parse_redirect(bad, "h"));
}

TEST_CASE("the slot map follows CLUSTER SLOTS, and redirects update one slot") {
  cluster_map map;
  CHECK(map.empty());
  CHECK(map.unserved() == cluster_slots);
  CHECK(map.owner(0) == nullptr);

  std::string error;
  auto reply = list({range(0, 5460, {node("10.0.0.1", 7000), node("10.0.0.4", 7003)}),
                     range(5461, 10922, {node("", 7001)}), // "" : the node asked
                     range(10923, 16383, {node("10.0.0.3", 7002), node("?", 7005)})});
  REQUIRE(map.load(reply, "10.0.0.2", error));
  CHECK(map.unserved() == 0);
  REQUIRE(map.owner(0));
  CHECK(map.owner(0)->port == 7000);
  CHECK(map.owner(5460)->port == 7000);
  CHECK(map.owner(5461)->host == "10.0.0.2");
  CHECK(map.owner(16383)->port == 7002);
  CHECK(map.primaries().size() == 3);
  CHECK(map.known().size() == 5); // primaries and replicas

  cluster_map same;
  REQUIRE(same.load(reply, "10.0.0.2", error));
  CHECK(same.same_routes(map));

  map.assign(42, {"10.0.0.3", 7002}); // MOVED 42 10.0.0.3:7002
  CHECK(map.owner(42)->port == 7002);
  CHECK(map.owner(43)->port == 7000);
  CHECK_FALSE(same.same_routes(map));

  // A map with a hole (a shard lost) says so.
  cluster_map holed;
  REQUIRE(holed.load(list({range(0, 100, {node("h", 1)})}), "h", error));
  CHECK(holed.unserved() == cluster_slots - 101);
  CHECK(holed.owner(101) == nullptr);
}

TEST_CASE("a reply that is not a slot map leaves the map as it was") {
  cluster_map map;
  std::string error;
  REQUIRE(map.load(list({range(0, 16383, {node("h", 1)})}), "h", error));
  redis_reply err;
  err.kind = reply_kind::error;
  err.str = "ERR This instance has cluster support disabled";
  CHECK_FALSE(map.load(err, "h", error));
  CHECK(error.find("cluster support disabled") != std::string::npos);
  CHECK_FALSE(map.load(list({range(5, 4, {node("h", 1)})}), "h", error));
  CHECK_FALSE(map.load(list({range(0, 16384, {node("h", 1)})}), "h", error));
  CHECK_FALSE(map.load(list({range(0, 1, {integer(3)})}), "h", error));
  CHECK_FALSE(map.load(list({list({integer(0)})}), "h", error));
  CHECK(map.unserved() == 0);
  CHECK(map.owner(9)->host == "h");
}
