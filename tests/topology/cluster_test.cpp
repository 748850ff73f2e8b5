// batond on a real Redis Cluster of three primaries and three replicas: every family works with
// its keys spread over the primaries, each key on its slot's primary; LEASE LIST and SECRET
// REWRAP scan every primary; a slot migrated under load is followed through ASK and MOVED
// without a failed call; a primary killed fails over, service resumes, fences only grow.
#include <catch2/catch.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <map>
#include <memory>
#include <set>
#include <stdexcept>
#include <thread>

#include "protocol/resp_client.hpp"
#include "tests/integration/secret_fixture.hpp"
#include "tests/support/reply_fields.hpp"
#include "tests/support/test_batond.hpp"
#include "tests/support/test_cluster.hpp"

using namespace baton;
using namespace std::chrono_literals;
using protocol::resp_client;
using protocol::resp_value;
using steady = std::chrono::steady_clock;

namespace {

// Two daemons on the cluster, each with its own node id, sharing a secrets config.
struct cluster_fleet {
  test::test_cluster cluster;
  test::temp_dir dir;
  std::vector<std::unique_ptr<test::test_batond>> daemons;

  explicit cluster_fleet(const std::string& redis = "call_timeout_ms: 2000",
                         std::size_t replicas = 1)
      : cluster(3, replicas) {
    auto config =
        test::write_secret_config(dir, "baton.yaml", "",
                                  "redis: {" + redis +
                                      ", reconnect_max_ms: 500}\n"
                                      "membership: {heartbeat_ms: 200, ttl_ms: 5000}\n"
                                      "rate:\n  policies:\n    - name: p\n      algorithm: gcra\n"
                                      "      windows: [{window_ms: 60000, limit: 5}]\n");
    for (int i = 0; i < 2; ++i)
      daemons.push_back(std::make_unique<test::test_batond>(
          cluster.url(),
          std::vector<std::string>{"--node-id", "n" + std::to_string(i), "--config", config}));
  }
  std::string socket(std::size_t i) const { return daemons[i]->socket_path(); }
};

std::string info_field(resp_client& c, const std::string& field) {
  auto info = c.call({"INFO", "redis"}).str;
  auto at = info.find(field + ":");
  if (at == std::string::npos) return "";
  auto end = info.find('\r', at);
  return info.substr(at + field.size() + 1, end - at - field.size() - 1);
}

// A primary that serves slots, other than `not_this`: owners as CLUSTER SLOTS names them (a
// node just made a replica may still be listed as a master without slots by CLUSTER NODES,
// and SETSLOT refuses a replica).
unsigned short another_slot_owner(const test::test_cluster& cluster, unsigned short not_this) {
  for (int slot : {0, 5461, 10923, 16383, 8000, 3000, 13000})
    if (auto owner = cluster.owner_of_slot(slot); owner != not_this) return owner;
  throw std::runtime_error("no other primary serves a slot");
}

// `count` lease names whose keys ("baton:lease:{name}") all hash to `slot`.
std::vector<std::string> names_in_slot(int slot, std::size_t count, const std::string& stem) {
  std::vector<std::string> out;
  for (int i = 0; out.size() < count; ++i) {
    auto name = stem + std::to_string(i);
    if (test::test_cluster::key_slot(name) == slot) out.push_back(name);
  }
  return out;
}

} // namespace

TEST_CASE("every family works on a Redis Cluster, each key on its slot's primary", "[cluster]") {
  cluster_fleet fleet;
  resp_client a(fleet.socket(0)), b(fleet.socket(1));
  REQUIRE(test::eventually([&] { return info_field(a, "redis_reachable") == "1"; }, 15000));
  CHECK(info_field(a, "redis_cluster_primaries") == "3");

  // Leases: 60 names over every primary; each key lives on the primary of its slot.
  std::set<unsigned short> owners;
  std::map<std::string, std::int64_t> tokens;
  for (int i = 0; i < 60; ++i) {
    auto name = "job-" + std::to_string(i);
    auto granted = a.call({"LEASE", "ACQUIRE", name, "30000"});
    INFO(granted.str << "\n" << fleet.daemons[0]->log());
    REQUIRE_FALSE(granted.is_error());
    tokens[name] = test::field(granted, "token");
    auto denied = b.call({"LEASE", "ACQUIRE", name, "30000"});
    REQUIRE(denied.is_error());
    CHECK(denied.str.rfind("DENIED", 0) == 0);
    auto owner = fleet.cluster.owner_of_slot(test::test_cluster::key_slot(name));
    owners.insert(owner);
    CHECK(fleet.cluster.cli(owner, {"EXISTS", "baton:lease:{" + name + "}"}) == "1");
  }
  CHECK(owners.size() == 3);
  auto listed = b.call({"LEASE", "LIST", "job-*"});
  REQUIRE(listed.kind == resp_value::type::array);
  CHECK(listed.elements.size() == 60); // scanned on all three primaries
  for (const auto& [name, token] : tokens) {
    REQUIRE_FALSE(a.call({"LEASE", "RENEW", name, std::to_string(token)}).is_error());
    CHECK(a.call({"LEASE", "RELEASE", name, std::to_string(token)}).str == "OK");
  }
  CHECK(b.call({"LEASE", "LIST", "job-*"}).elements.empty());

  // Rate limits, shared by both daemons: 5 per minute for one key, whichever daemon asks.
  int allowed = 0;
  for (int i = 0; i < 10; ++i)
    allowed += test::field((i % 2 ? a : b).call({"RATE", "CHECK", "p", "user-7"}), "allowed");
  CHECK(allowed == 5);

  // Idempotency keys: the second claim sees the first one's result.
  CHECK(test::text_field(a.call({"DEDUP", "CLAIM", "order-1", "60000"}), "status") == "new");
  REQUIRE(a.call({"DEDUP", "DONE", "order-1", "receipt-1"}).str == "OK");
  auto again = b.call({"DEDUP", "CLAIM", "order-1", "60000"});
  CHECK(test::text_field(again, "status") == "done");
  CHECK(test::text_field(again, "result") == "receipt-1");

  // Sessions: opened on one daemon, resumed on the other, listed, closed.
  std::vector<std::string> ids;
  for (int i = 0; i < 10; ++i) {
    auto opened = a.call({"SESSION", "OPEN", "alice", "60000"});
    REQUIRE_FALSE(opened.is_error());
    ids.push_back(test::text_field(opened, "id"));
    auto resumed = b.call({"SESSION", "RESUME", test::text_field(opened, "token")});
    REQUIRE_FALSE(resumed.is_error());
    CHECK(test::text_field(resumed, "owner") == "n1");
  }
  CHECK(b.call({"SESSION", "LIST", "alice"}).elements.size() == ids.size());
  for (const auto& id : ids)
    CHECK(a.call({"SESSION", "CLOSE", id}).integer == 1);

  // Secrets: put on one daemon, read on the other; REWRAP finds them on every primary.
  for (int i = 0; i < 6; ++i) {
    auto name = "s" + std::to_string(i);
    REQUIRE_FALSE(a.call({"SECRET", "PUT", name, "value-" + name}).is_error());
  }
  REQUIRE(test::eventually(
      [&] {
        return test::value_of(b.call({"SECRET", "GET", "s5"})) == "value-s5";
      },
      10000));
  auto rewrapped = a.call({"SECRET", "REWRAP"});
  REQUIRE_FALSE(rewrapped.is_error());
  // Each secret's versions, on every primary, were found: already under the only KEK.
  CHECK(test::field(rewrapped, "already") >= 6);
  CHECK(test::field(rewrapped, "failed") == 0);

  // Membership: both daemons see both.
  REQUIRE(test::eventually([&] { return a.call({"NODE", "LIST"}).elements.size() == 2; }, 10000));
}

TEST_CASE("a slot migrated under load: calls follow ASK and MOVED, and none fails", "[cluster]") {
  cluster_fleet fleet;
  resp_client probe(fleet.socket(0));
  REQUIRE(test::eventually([&] { return info_field(probe, "redis_reachable") == "1"; }, 15000));

  const int slot = test::test_cluster::key_slot("migrating");
  auto from = fleet.cluster.owner_of_slot(slot);
  auto to = another_slot_owner(fleet.cluster, from);
  auto names = names_in_slot(slot, 12, "m");

  // Each daemon's client acquires and releases the names in turn, as fast as it can.
  std::atomic<bool> running{true};
  std::atomic<int> failures{0}, ops{0};
  std::vector<std::map<std::string, std::int64_t>> last_token(2);
  std::vector<std::thread> clients;
  for (std::size_t d = 0; d < 2; ++d)
    clients.emplace_back([&, d] {
      resp_client c(fleet.socket(d));
      for (std::size_t round = 0; running; ++round) {
        const auto& name = names[(round * 2 + d) % names.size()];
        auto granted = c.call({"LEASE", "ACQUIRE", name, "10000", "WAIT", "2000"});
        if (granted.is_error()) {
          ++failures;
          std::printf("acquire %s: %s\n", name.c_str(), granted.str.c_str());
          continue;
        }
        auto token = test::field(granted, "token");
        if (token <= last_token[d][name]) ++failures; // fences only grow
        last_token[d][name] = token;
        auto released = c.call({"LEASE", "RELEASE", name, std::to_string(token)});
        if (released.is_error()) {
          ++failures;
          std::printf("release %s: %s\n", name.c_str(), released.str.c_str());
        }
        ++ops;
      }
    });

  std::this_thread::sleep_for(300ms);
  fleet.cluster.begin_migration(slot, to);
  // Half the keys move, then both nodes serve the slot for a while: ASK for the moved ones.
  fleet.cluster.migrate_keys(slot, to, names.size());
  std::this_thread::sleep_for(500ms);
  fleet.cluster.finish_migration(slot, to);
  std::this_thread::sleep_for(500ms);
  int before = ops.load();
  std::this_thread::sleep_for(300ms);
  running = false;
  for (auto& t : clients)
    t.join();

  std::printf("\nslot %d moved from :%u to :%u under load: %d acquire+release pairs, %d failed; "
              "MOVED followed %s, ASK followed %s\n",
              slot, from, to, ops.load(), failures.load(),
              info_field(probe, "redis_cluster_moved").c_str(),
              info_field(probe, "redis_cluster_asked").c_str());
  CHECK(failures == 0);
  CHECK(ops > before); // still serving after the move
  CHECK(fleet.cluster.owner_of_slot(slot) == to);
  resp_client other(fleet.socket(1));
  auto moved = std::stoll(info_field(probe, "redis_cluster_moved")) +
               std::stoll(info_field(other, "redis_cluster_moved"));
  CHECK(moved >= 1);
  // The fences moved with the slot: a new grant is above every earlier one.
  for (const auto& name : names) {
    std::int64_t highest = std::max(last_token[0][name], last_token[1][name]);
    auto granted = probe.call({"LEASE", "ACQUIRE", name, "10000"});
    REQUIRE_FALSE(granted.is_error());
    CHECK(test::field(granted, "token") > highest);
    CHECK(fleet.cluster.cli(to, {"EXISTS", "baton:lease:{" + name + "}"}) == "1");
  }
}

TEST_CASE("a primary of a Redis Cluster killed: its slots fail over, service resumes, fences "
          "only grow",
          "[cluster]") {
  // Two replicas per primary: after one is promoted, WAIT 1 still has a replica to count.
  cluster_fleet fleet("call_timeout_ms: 2000, wait_replicas: 1, wait_timeout_ms: 500", 2);
  resp_client probe(fleet.socket(0));
  REQUIRE(test::eventually([&] { return info_field(probe, "redis_reachable") == "1"; }, 15000));

  const int slot = test::test_cluster::key_slot("victim");
  auto victim = fleet.cluster.owner_of_slot(slot);
  auto names = names_in_slot(slot, 4, "v");
  std::map<std::string, std::int64_t> highest;
  for (const auto& name : names) {
    auto granted = probe.call({"LEASE", "ACQUIRE", name, "2000"});
    REQUIRE_FALSE(granted.is_error()); // after WAIT: on the replica too
    highest[name] = test::field(granted, "token");
    REQUIRE(probe.call({"LEASE", "RELEASE", name, std::to_string(highest[name])}).str == "OK");
  }
  auto ids_before = test::text_field(probe.call({"SESSION", "OPEN", "bob", "60000"}), "id");

  auto killed_at = steady::now();
  auto promoted = fleet.cluster.kill_primary(victim);
  auto promoted_at = steady::now();
  // Service for the slot resumes within the failover plus a map refresh and a reconnect.
  steady::time_point served{};
  REQUIRE(test::eventually(
      [&] {
        auto granted = probe.call({"LEASE", "ACQUIRE", names[0], "2000"});
        if (granted.is_error()) return false;
        served = steady::now();
        CHECK(test::field(granted, "token") > highest[names[0]]);
        return true;
      },
      20000));
  std::printf("\nprimary :%u killed; the cluster promoted :%u after %.0f ms; the slot served "
              "again after %.0f ms\n",
              victim, promoted,
              std::chrono::duration<double, std::milli>(promoted_at - killed_at).count(),
              std::chrono::duration<double, std::milli>(served - killed_at).count());
  CHECK(fleet.cluster.owner_of_slot(slot) == promoted);
  for (std::size_t i = 1; i < names.size(); ++i) {
    auto granted = probe.call({"LEASE", "ACQUIRE", names[i], "2000"});
    REQUIRE_FALSE(granted.is_error());
    CHECK(test::field(granted, "token") > highest[names[i]]);
  }
  // The session acknowledged after WAIT survived the failover.
  auto got = probe.call({"SESSION", "GET", ids_before});
  CHECK(got.kind != resp_value::type::null);
  CHECK(info_field(probe, "redis_reachable") == "1");
}

TEST_CASE("CLUSTER FAILOVER under load: only calls caught in the switch are refused, and the "
          "map follows the new primary",
          "[cluster]") {
  // A planned switch: the replica catches up with its primary before it takes over, and calls
  // that meet the old primary are redirected (MOVED). A grant made in the switch may find no
  // replica to acknowledge it (the replica is being promoted): it is given back and answered
  // UNAVAILABLE (wait_short: fail), never granted twice.
  cluster_fleet fleet("call_timeout_ms: 2000, wait_replicas: 1, wait_timeout_ms: 500", 2);
  resp_client probe(fleet.socket(0));
  REQUIRE(test::eventually([&] { return info_field(probe, "redis_reachable") == "1"; }, 15000));

  const int slot = test::test_cluster::key_slot("switched");
  auto names = names_in_slot(slot, 6, "f");
  std::atomic<bool> running{true};
  std::atomic<int> failures{0}, refused{0}, ops{0};
  std::map<std::string, std::int64_t> last_token;
  std::map<std::string, bool> still_held;
  std::thread client([&] {
    resp_client c(fleet.socket(1));
    for (std::size_t round = 0; running; ++round) {
      const auto& name = names[round % names.size()];
      auto granted = c.call({"LEASE", "ACQUIRE", name, "10000", "WAIT", "2000"});
      if (granted.is_error()) {
        if (granted.str.rfind("UNAVAILABLE", 0) == 0) {
          ++refused;
        } else {
          ++failures;
          std::printf("acquire %s: %s\n", name.c_str(), granted.str.c_str());
        }
        continue;
      }
      auto token = test::field(granted, "token");
      // A name whose release failed is still this connection's: acquiring it again keeps
      // its token. Any new grant has a higher one.
      if (still_held[name] ? token < last_token[name] : token <= last_token[name]) ++failures;
      last_token[name] = token;
      auto released = c.call({"LEASE", "RELEASE", name, std::to_string(token)});
      still_held[name] = released.is_error();
      if (released.is_error() && released.str.rfind("UNAVAILABLE", 0) != 0) ++failures;
      ++ops;
    }
  });
  std::this_thread::sleep_for(300ms);
  auto before_port = fleet.cluster.owner_of_slot(slot);
  auto promoted = fleet.cluster.failover(before_port);
  int at_switch = ops.load();
  std::this_thread::sleep_for(500ms);
  running = false;
  client.join();
  std::printf("\nCLUSTER FAILOVER :%u -> :%u under load: %d acquire+release pairs, %d acquires "
              "refused (UNAVAILABLE) in the switch, %d other failures\n",
              before_port, promoted, ops.load(), refused.load(), failures.load());
  CHECK(failures == 0);
  CHECK(refused < ops / 10); // a moment's worth, not the run's
  CHECK(ops > at_switch);
  CHECK(fleet.cluster.owner_of_slot(slot) == promoted);
  resp_client other(fleet.socket(1));
  CHECK(test::eventually(
      [&] {
        auto granted = other.call({"LEASE", "ACQUIRE", names[0], "1000"});
        return !granted.is_error() && test::field(granted, "token") > last_token[names[0]];
      },
      5000));
}

namespace {

/// Reads until a push arrives (RESP3 interleaves them with replies); replies are dropped.
resp_value next_push(resp_client& c) {
  for (;;) {
    auto r = c.read();
    if (r.kind == resp_value::type::push) return r;
  }
}

/// PUBSUB SHARDNUMSUB (sharded subscribers) or NUMSUB (classic) of `channel` on one node.
long subscribers_on(const test::test_cluster& cluster, unsigned short port,
                    const std::string& channel, bool sharded) {
  auto out = cluster.cli(port, {"PUBSUB", sharded ? "SHARDNUMSUB" : "NUMSUB", channel});
  auto line = out.substr(out.rfind('\n') + 1);
  return std::strtol(line.c_str(), nullptr, 10);
}

} // namespace

TEST_CASE("LEASE WATCH on a Cluster: grants come by sharded pub/sub on the lease's node, and "
          "the subscription follows its slot through a migration and a failover",
          "[cluster]") {
  cluster_fleet fleet;
  auto watcher = std::make_unique<resp_client>(fleet.socket(0), 15000);
  REQUIRE(watcher->call({"HELLO", "3"}).kind == resp_value::type::map);
  resp_client holder(fleet.socket(1));
  REQUIRE(test::eventually([&] { return info_field(holder, "redis_reachable") == "1"; }, 15000));

  const std::string name = "watched";
  const std::string channel = "baton:lease-watch:{" + name + "}";
  const int slot = test::test_cluster::key_slot(name);
  auto owner = fleet.cluster.owner_of_slot(slot);
  REQUIRE(watcher->call({"LEASE", "WATCH", name}).integer == 1);
  // Daemon 0 follows the channel on the slot's primary, with SSUBSCRIBE, not SUBSCRIBE.
  REQUIRE(test::slowly_eventually(
      [&] { return subscribers_on(fleet.cluster, owner, channel, true) == 1; }, 10000));
  long classic = 0; // wherever a classic subscription would sit
  for (auto port : fleet.cluster.primary_ports())
    classic += subscribers_on(fleet.cluster, port, channel, false);
  CHECK(classic == 0);

  // A grant by the other daemon, announced with SPUBLISH inside lua/lease_acquire.
  auto grant_and_see = [&](const char* when) {
    INFO(when);
    auto granted = holder.call({"LEASE", "ACQUIRE", name, "60000"});
    REQUIRE_FALSE(granted.is_error());
    auto token = test::field(granted, "token");
    auto pushed = next_push(*watcher);
    REQUIRE(pushed.elements.size() >= 5);
    CHECK(pushed.elements[1].str == "acquired");
    CHECK(pushed.elements[3].integer == token);
    CHECK(pushed.elements[4].str == "n1");
    REQUIRE(holder.call({"LEASE", "RELEASE", name, std::to_string(token)}).str == "OK");
    CHECK(next_push(*watcher).elements.at(1).str == "released");
  };
  grant_and_see("before any move");

  // The slot migrates: the old primary drops the subscription (`sunsubscribe`), the daemon
  // subscribes on the new one, and grants announced there reach the watcher.
  auto target = another_slot_owner(fleet.cluster, owner);
  fleet.cluster.migrate_slot(slot, target);
  REQUIRE(test::slowly_eventually(
      [&] { return subscribers_on(fleet.cluster, target, channel, true) == 1; }, 10000));
  CHECK(subscribers_on(fleet.cluster, owner, channel, true) == 0);
  grant_and_see("after the slot migrated");

  // Its primary fails over: the subscription moves to the promoted replica.
  auto promoted = fleet.cluster.failover(target);
  REQUIRE(test::slowly_eventually(
      [&] { return subscribers_on(fleet.cluster, promoted, channel, true) == 1; }, 10000));
  grant_and_see("after a failover");

  // The last watcher gone, no subscription is left on any node.
  REQUIRE(watcher->call({"LEASE", "UNWATCH", name}).integer == 0);
  REQUIRE(test::slowly_eventually(
      [&] {
        for (auto port : fleet.cluster.primary_ports())
          if (subscribers_on(fleet.cluster, port, channel, true) != 0) return false;
        return true;
      },
      5000));
}

// A script that deletes a key and then writes it again stops half done on a Cluster while the
// key's slot migrates: once deleted, the key counts as the target's, and Redis refuses the
// write ("Script attempted to access a non local key") after the delete took effect. STATE SET
// lost a whole counter that way in a chaos run (chaos.mix.cluster, migrate-slot). The scripts
// write over their keys in place instead; this runs each such write while its slot migrates.
namespace {

// One daemon with `config_text` on a cluster of three primaries without replicas, reaching it.
struct one_daemon_cluster {
  test::test_cluster cluster{3, 0};
  test::temp_dir dir;
  std::unique_ptr<test::test_batond> daemon;
  std::unique_ptr<resp_client> client;

  explicit one_daemon_cluster(const std::string& config_text) {
    auto config = dir.file("baton.yaml");
    std::ofstream(config) << config_text;
    daemon = std::make_unique<test::test_batond>(
        cluster.url(), std::vector<std::string>{"--node-id", "n0", "--config", config});
    client = std::make_unique<resp_client>(daemon->socket_path());
    REQUIRE(test::eventually([&] { return info_field(*client, "redis_reachable") == "1"; },
                             15000));
  }
};

} // namespace

TEST_CASE("writes over keys of a migrating slot finish whole, and the keys stay", "[cluster]") {
  one_daemon_cluster f("redis: {call_timeout_ms: 2000}\n"
                       "state:\n  namespaces:\n    - {name: ns}\n");
  auto& cluster = f.cluster;
  auto& c = *f.client;

  auto v1 = c.call({"STATE", "SET", "ns", "counter", "1", "TTL", "60000"});
  REQUIRE(v1.kind == resp_value::type::integer);
  REQUIRE(test::text_field(c.call({"DEDUP", "CLAIM", "job-7", "60000"}), "status") == "new");
  for (const auto* tag : {"counter", "job-7"}) {
    auto slot = test::test_cluster::key_slot(tag);
    cluster.begin_migration(slot, another_slot_owner(cluster, cluster.owner_of_slot(slot)));
  }

  // The keys are still on their source nodes, whose slots now migrate.
  auto v2 = c.call({"STATE", "SET", "ns", "counter", "2", "IFVERSION", std::to_string(v1.integer)});
  INFO(v2.str);
  REQUIRE(v2.kind == resp_value::type::integer);
  auto got = c.call({"STATE", "GET", "ns", "counter"});
  CHECK(test::text_field(got, "value") == "2");
  CHECK(test::field(got, "version") == v2.integer);
  CHECK(test::field(got, "ttl_ms") == -1); // a SET without TTL (and no default) keeps none
  auto restored = c.call({"STATE", "RESTORE", "ns", "counter", "3", "99", "0"});
  INFO(restored.str);
  CHECK(restored.integer == 1);
  CHECK(test::text_field(c.call({"STATE", "GET", "ns", "counter"}), "value") == "3");
  auto done = c.call({"DEDUP", "DONE", "job-7", "charged"});
  INFO(done.str);
  CHECK(done.str == "OK");
  auto claim = c.call({"DEDUP", "CLAIM", "job-7", "60000"});
  CHECK(test::text_field(claim, "status") == "done");
  CHECK(test::text_field(claim, "result") == "charged");
}

// The line "primaryN:address=...,ok=...,..." of INFO redis_health naming `port`, or "".
std::string primary_line(const std::string& health, unsigned short port) {
  auto at = health.find(":" + std::to_string(port) + ",ok=");
  if (at == std::string::npos) return "";
  auto start = health.rfind('\n', at);
  auto end = health.find('\r', at);
  start = start == std::string::npos ? 0 : start + 1;
  return health.substr(start, end - start);
}

std::string value_in(const std::string& line, const std::string& key) {
  auto at = line.find("," + key + "=");
  if (at == std::string::npos) return "";
  auto end = line.find(',', at + 1);
  return line.substr(at + key.size() + 2, end == std::string::npos ? end : end - at - key.size() - 2);
}

TEST_CASE("Redis health on a Cluster: each primary's own INFO, and one that stops answering is "
          "shown down while the others are read",
          "[cluster]") {
  one_daemon_cluster f("redis: {call_timeout_ms: 300, health_interval_ms: 200, "
                       "reconnect_max_ms: 500}\n");
  auto& cluster = f.cluster;
  auto& dir = f.dir;
  auto& d = *f.daemon;
  auto& c = *f.client;
  auto health = [&] { return c.call({"INFO", "redis_health"}).str; };
  auto primaries = cluster.primary_ports();
  REQUIRE(primaries.size() == 3);
  // Keys placed on each primary: its line counts that node's own keys, as its DBSIZE does.
  for (std::size_t i = 0; i < primaries.size(); ++i)
    for (int k = 0; k < static_cast<int>(i + 1) * 5; ++k) {
      std::string key;
      for (int n = 0; key.empty(); ++n) {
        auto candidate = "health-" + std::to_string(i) + "-" + std::to_string(k) + "-" +
                         std::to_string(n);
        if (cluster.owner_of_slot(test::test_cluster::key_slot(candidate)) == primaries[i])
          key = candidate;
      }
      cluster.cli(primaries[i], {"SET", key, "x"});
    }
  std::string h;
  bool own_figures = test::eventually(
      [&] {
        h = health();
        if (h.find("primaries:3\r\n") == std::string::npos) return false;
        for (auto port : primaries) {
          auto line = primary_line(h, port);
          auto dbsize = cluster.cli(port, {"DBSIZE"});
          if (line.find(",ok=1,") == std::string::npos || value_in(line, "keys") != dbsize ||
              std::atoll(value_in(line, "used_memory").c_str()) <= 0)
            return false;
        }
        return true;
      },
      10000);
  INFO(h);
  CHECK(own_figures);

  // /metrics: each primary labelled, promtool-clean; batonctl redis: a row each.
  std::string body;
  REQUIRE(test::http_get(d.http_port(), "/metrics", &body) == 200);
  for (auto port : primaries) {
    auto label = "{primary=\"127.0.0.1:" + std::to_string(port) + "\"}";
    CHECK(body.find("baton_redis_primary_up" + label + " 1") != std::string::npos);
    CHECK(body.find("baton_redis_primary_keys" + label + " ") != std::string::npos);
    CHECK(body.find("baton_redis_primary_used_memory_bytes" + label + " ") != std::string::npos);
  }
  std::ofstream(dir.file("metrics.txt")) << body;
  std::string promtool;
  auto promtool_status =
      test::run_command("promtool check metrics < " + dir.file("metrics.txt"), &promtool);
  INFO(promtool);
  CHECK(promtool_status == 0);
  std::string table;
  CHECK(test::run_command(std::string(BATONCTL_PATH) + " -s " + d.socket_path() + " redis",
                          &table) == 0);
  INFO(table);
  CHECK(table.find("PRIMARY") != std::string::npos);
  for (auto port : primaries)
    CHECK(table.find("127.0.0.1:" + std::to_string(port) + " ") != std::string::npos);

  // One primary stalls (SIGSTOP): its line says so; the others are still read.
  auto stalled = primaries[1];
  cluster.node_on(stalled).pause();
  bool shown_down = test::eventually(
      [&] {
        h = health();
        return primary_line(h, stalled).find(",ok=0,") != std::string::npos &&
               primary_line(h, primaries[0]).find(",ok=1,") != std::string::npos &&
               primary_line(h, primaries[2]).find(",ok=1,") != std::string::npos;
      },
      10000);
  cluster.node_on(stalled).resume();
  INFO(h);
  CHECK(shown_down);
  CHECK(test::eventually(
      [&] { return primary_line(health(), stalled).find(",ok=1,") != std::string::npos; },
      10000));
}
