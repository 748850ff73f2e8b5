// Sharded pub/sub on a real Redis Cluster, below batond: a subscriber in sharded mode hands
// back a channel its node refuses (MOVED) or drops (its slot moved away: `sunsubscribe`) and
// keeps the rest; shard_channels subscribes each channel on its slot's primary, also channels
// asked for before the slot map is known, and lets go of a node when its last channel leaves.
// The link runs on an io_context driven by the test thread.
#include <catch2/catch.hpp>

#include <boost/asio/io_context.hpp>

#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "redis/link_counters.hpp"
#include "redis/redis_pool.hpp"
#include "redis/redis_subscriber.hpp"
#include "redis/shard_channels.hpp"
#include "tests/support/test_cluster.hpp"

using namespace baton;
using namespace baton::redis_link;
using namespace std::chrono_literals;

namespace {

template <class Predicate>
bool run_until(boost::asio::io_context& io, Predicate done, milliseconds timeout = 10000ms) {
  auto until = clock::now() + timeout;
  while (!done()) {
    if (clock::now() > until) return false;
    io.restart();
    io.run_for(10ms);
  }
  return true;
}

link_settings node_settings(unsigned short port) {
  link_settings s;
  s.endpoint.transport = transport_kind::tcp;
  s.endpoint.host = "127.0.0.1";
  s.endpoint.port = port;
  s.reconnect_max = 500ms;
  return s;
}

/// A channel named `stem<i>` whose slot the primary on `port` serves (`owned`) or not.
std::string channel_served(const test::test_cluster& cluster, unsigned short port, bool owned,
                           const std::string& stem) {
  for (int i = 0;; ++i) {
    auto name = stem + std::to_string(i);
    if ((cluster.owner_of_slot(test::test_cluster::key_slot(name)) == port) == owned) return name;
  }
}

long shard_subscribers(const test::test_cluster& cluster, unsigned short port,
                       const std::string& channel) {
  auto out = cluster.cli(port, {"PUBSUB", "SHARDNUMSUB", channel});
  return std::strtol(out.substr(out.rfind('\n') + 1).c_str(), nullptr, 10);
}

} // namespace

TEST_CASE("sharded subscriber: a refused channel and one whose slot moved away are handed "
          "back, the others followed",
          "[cluster]") {
  test::test_cluster cluster(3, 0);
  auto primaries = cluster.primary_ports();
  auto home = primaries.at(0);
  auto own = channel_served(cluster, home, true, "own");
  auto kept = channel_served(cluster, home, true, "kept");
  auto also = channel_served(cluster, home, true, "also");
  auto foreign = channel_served(cluster, home, false, "foreign");

  boost::asio::io_context io;
  auto sub =
      std::make_shared<redis_subscriber>(io, node_settings(home), redis_subscriber::mode::sharded);
  std::vector<std::string> handed_back;
  std::map<std::string, std::vector<std::string>> got;
  std::map<std::string, int> confirmed;
  sub->on_moved_away([&](const std::string& channel) { handed_back.push_back(channel); });
  for (const auto& channel : {own, kept, also, foreign})
    sub->subscribe(
        channel, [&, channel](const std::string& payload) { got[channel].push_back(payload); },
        [&, channel] { ++confirmed[channel]; });
  sub->start();
  REQUIRE(run_until(io, [&] { return confirmed.size() == 3 && handed_back.size() == 1; }));
  CHECK(handed_back == std::vector<std::string>{foreign}); // MOVED: not this node's slot
  CHECK(sub->channel_count() == 3);
  CHECK(confirmed.count(foreign) == 0);

  CHECK(cluster.cli(home, {"SPUBLISH", own, "one"}) == "1");
  CHECK(cluster.cli(home, {"SPUBLISH", kept, "two"}) == "1");
  REQUIRE(run_until(io, [&] { return got[own].size() == 1 && got[kept].size() == 1; }));
  CHECK(got[own].front() == "one");
  CHECK(got[kept].front() == "two");

  // `own`'s slot moves to another primary: Redis drops the subscription with an unasked
  // `sunsubscribe`, the subscriber hands the channel back and keeps `kept`.
  cluster.migrate_slot(test::test_cluster::key_slot(own), primaries.at(1));
  REQUIRE(run_until(io, [&] { return handed_back.size() == 2; }));
  CHECK(handed_back.back() == own);
  CHECK(sub->channel_count() == 2);
  CHECK(cluster.cli(home, {"SPUBLISH", kept, "three"}) == "1");
  REQUIRE(run_until(io, [&] { return got[kept].size() == 2; }));

  // Unsubscribing is answered as such: nothing is handed back, and the connection is not
  // started again (which would confirm `also` a second time).
  sub->unsubscribe(kept);
  REQUIRE(run_until(io, [&] { return shard_subscribers(cluster, home, kept) == 0; }));
  io.restart();
  io.run_for(200ms);
  CHECK(handed_back.size() == 2);
  CHECK(confirmed[also] == 1);
  CHECK(cluster.cli(home, {"SPUBLISH", also, "four"}) == "1");
  REQUIRE(run_until(io, [&] { return got[also].size() == 1; }));
  sub->stop();
  io.restart();
  io.run_for(20ms);
}

TEST_CASE("shard channels: each channel on its slot's primary, placed once the map is known, "
          "moved with its slot",
          "[cluster]") {
  test::test_cluster cluster(3, 0);
  auto primaries = cluster.primary_ports();
  boost::asio::io_context io;
  auto settings = node_settings(primaries.at(0));
  for (auto port : primaries)
    settings.cluster_seeds.push_back(node_settings(port).endpoint);
  link_counters counters;
  redis_pool pool(io, settings, counters);
  auto classic = std::make_shared<redis_subscriber>(io, settings);
  shard_channels shards(io, settings, pool, *classic);
  pool.on_map_change([&](bool) { shards.map_changed(); });
  REQUIRE(shards.sharded());

  // Asked for before the link knows the map: no node yet.
  std::map<std::string, int> confirmed;
  std::map<std::string, std::vector<std::string>> got;
  std::vector<std::string> channels;
  for (int i = 0; i < 6; ++i)
    channels.push_back("baton:lease-watch:{job" + std::to_string(i) + "}");
  for (const auto& channel : channels)
    shards.subscribe(
        channel, [&, channel](const std::string& payload) { got[channel].push_back(payload); },
        [&, channel] { ++confirmed[channel]; });
  CHECK(shards.unplaced() == channels.size());
  pool.start();
  classic->start();
  shards.start();
  REQUIRE(run_until(io, [&] { return confirmed.size() == channels.size(); }));
  CHECK(shards.unplaced() == 0);
  std::set<unsigned short> nodes_used;
  for (const auto& channel : channels) {
    auto owner = cluster.owner_of_slot(test::test_cluster::key_slot(channel));
    nodes_used.insert(owner);
    CHECK(shard_subscribers(cluster, owner, channel) == 1);
    CHECK(cluster.cli(owner, {"SPUBLISH", channel, "to " + channel}) == "1");
  }
  CHECK(nodes_used.size() > 1); // the six spread over the primaries
  REQUIRE(run_until(io, [&] {
    for (const auto& channel : channels)
      if (got[channel].size() != 1) return false;
    return true;
  }));

  // A migrated slot: its channel is confirmed again on the new primary (the listener reads
  // what it may have missed), and messages published there arrive.
  const auto& moving = channels.front();
  auto slot = test::test_cluster::key_slot(moving);
  auto from = cluster.owner_of_slot(slot);
  unsigned short to = 0;
  for (auto port : primaries)
    if (port != from) to = port;
  cluster.migrate_slot(slot, to);
  REQUIRE(run_until(io, [&] { return confirmed[moving] == 2; }));
  CHECK(shard_subscribers(cluster, to, moving) == 1);
  CHECK(shard_subscribers(cluster, from, moving) == 0);
  CHECK(cluster.cli(to, {"SPUBLISH", moving, "after"}) == "1");
  REQUIRE(run_until(io, [&] { return got[moving].size() == 2; }));
  CHECK(got[moving].back() == "after");
  for (std::size_t i = 1; i < channels.size(); ++i)
    CHECK(confirmed[channels[i]] == 1); // the others stayed where they were

  // Unsubscribed, a channel leaves its node.
  shards.unsubscribe(moving);
  REQUIRE(run_until(io, [&] { return shard_subscribers(cluster, to, moving) == 0; }));
  shards.stop();
  classic->stop();
  pool.stop();
  io.restart();
  io.run_for(50ms);
}
