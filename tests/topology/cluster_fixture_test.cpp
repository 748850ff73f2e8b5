// The Redis Cluster fixture itself (tests/support/test_cluster.hpp) on real redis-server 7.0
// nodes: its slot function agrees with CLUSTER KEYSLOT, a migrated slot takes its keys along,
// and a failover or a kill -9 hands a primary's slots to its replica. batond's cluster tests
// trust each of these.
#include <catch2/catch.hpp>

#include <algorithm>
#include <string>
#include <vector>

#include "tests/support/test_cluster.hpp"

using namespace baton;
using test::test_cluster;

namespace {

std::string moved_to(int slot, unsigned short port) {
  return "MOVED " + std::to_string(slot) + " 127.0.0.1:" + std::to_string(port);
}

unsigned short another_primary(test_cluster& cluster, unsigned short port) {
  auto primaries = cluster.primary_ports();
  auto other = std::find_if(primaries.begin(), primaries.end(), [&](auto p) { return p != port; });
  REQUIRE(other != primaries.end());
  return *other;
}

bool contains(const std::vector<unsigned short>& ports, unsigned short port) {
  return std::find(ports.begin(), ports.end(), port) != ports.end();
}

} // namespace

TEST_CASE("cluster fixture: key_slot agrees with CLUSTER KEYSLOT, hash tags included",
          "[cluster]") {
  // Known values first, so a wrong CRC cannot hide behind a broken comparison.
  CHECK(test_cluster::key_slot("123456789") == 0x31C3); // the CRC16/XMODEM check value
  CHECK(test_cluster::key_slot("foo") == 12182);
  test_cluster cluster;
  auto primaries = cluster.primary_ports();
  REQUIRE(primaries.size() == 3);
  CHECK(cluster.ports().size() == 6);
  CHECK(cluster.url() == "redis-cluster://127.0.0.1:" + std::to_string(primaries[0]) +
                             ",127.0.0.1:" + std::to_string(primaries[1]) +
                             ",127.0.0.1:" + std::to_string(primaries[2]));
  // The tag is what lies between the first '{' and the next '}', and only if not empty.
  const std::vector<std::string> keys = {"",
                                         "foo",
                                         "baton:lease:{job}",
                                         "baton:lease:job",
                                         "{user1000}.following",
                                         "{user1000}.followers",
                                         "{}",
                                         "{a}b",
                                         "a",
                                         "a{}{b}",
                                         "foo{}{bar}",
                                         "foo{{bar}}zap",
                                         "foo{bar}{zap}",
                                         "{",
                                         "}",
                                         "a{b",
                                         "a}b{c}",
                                         "}{a}",
                                         "x{}y}",
                                         "{{}}",
                                         "it's",
                                         "with space",
                                         "\xc3\xa9t\xc3\xa9"};
  for (const auto& key : keys) {
    INFO("key \"" << key << "\"");
    CHECK(cluster.cli(primaries[0], {"CLUSTER", "KEYSLOT", key}) ==
          std::to_string(test_cluster::key_slot(key)));
  }
  CHECK(test_cluster::key_slot("{a}b") == test_cluster::key_slot("a"));
  CHECK(test_cluster::key_slot("a{}{b}") != test_cluster::key_slot("b"));
}

TEST_CASE("cluster fixture: a migrated slot takes its keys to the new owner", "[cluster]") {
  test_cluster cluster;
  const std::string key = "baton:lease:{job}";
  auto slot = test_cluster::key_slot(key);
  auto from = cluster.owner_of_slot(slot);
  REQUIRE(cluster.cli(from, {"SET", key, "held"}) == "OK");
  auto to = another_primary(cluster, from);
  cluster.migrate_slot(slot, to);
  CHECK(cluster.owner_of_slot(slot) == to);
  CHECK(cluster.cli(to, {"GET", key}) == "held");
  for (auto port : cluster.ports()) // replicas included: they redirect to the primary too
    if (port != to) CHECK(cluster.cli(port, {"GET", key}) == moved_to(slot, to));

  // In halves: one key moved, the source sends clients on with ASK for it alone.
  const std::vector<std::string> keys = {"{m}1", "{m}2", "{m}3"};
  auto tagged = test_cluster::key_slot("{m}");
  from = cluster.owner_of_slot(tagged);
  to = another_primary(cluster, from);
  for (const auto& k : keys)
    REQUIRE(cluster.cli(from, {"SET", k, k}) == "OK");
  cluster.begin_migration(tagged, to);
  CHECK(cluster.migrate_keys(tagged, to, 1) == 1);
  int asked = 0;
  for (const auto& k : keys) {
    auto got = cluster.cli(from, {"GET", k});
    if (got == "ASK " + std::to_string(tagged) + " 127.0.0.1:" + std::to_string(to))
      ++asked;
    else
      CHECK(got == k);
  }
  CHECK(asked == 1);
  CHECK(cluster.owner_of_slot(tagged) == from); // until SETSLOT NODE
  cluster.finish_migration(tagged, to);
  CHECK(cluster.owner_of_slot(tagged) == to);
  for (const auto& k : keys) {
    CHECK(cluster.cli(to, {"GET", k}) == k);
    CHECK(cluster.cli(from, {"GET", k}) == moved_to(tagged, to));
  }
}

TEST_CASE("cluster fixture: failover and kill_primary hand a primary's slots to its replica",
          "[cluster]") {
  test_cluster cluster;
  const std::string key = "baton:lease:{job}";
  auto slot = test_cluster::key_slot(key);
  auto first = cluster.owner_of_slot(slot);
  REQUIRE(cluster.cli(first, {"SET", key, "held"}) == "OK");
  REQUIRE(cluster.cli(first, {"WAIT", "1", "5000"}) == "1"); // on the replica before it takes over

  auto second = cluster.failover(first);
  CHECK(second != first);
  CHECK(cluster.owner_of_slot(slot) == second);
  CHECK(cluster.cli(second, {"GET", key}) == "held");
  CHECK(cluster.cli(first, {"GET", key}) == moved_to(slot, second));
  auto primaries = cluster.primary_ports();
  CHECK(contains(primaries, second));
  CHECK_FALSE(contains(primaries, first)); // a replica of `second` now

  // A crash of the new primary: the old one, its only replica, takes over again.
  auto third = cluster.kill_primary(second);
  CHECK(third == first);
  CHECK_FALSE(cluster.node_on(second).running());
  CHECK(cluster.owner_of_slot(slot) == first);
  CHECK(cluster.cli(first, {"GET", key}) == "held");
  CHECK_FALSE(contains(cluster.primary_ports(), second));
}
