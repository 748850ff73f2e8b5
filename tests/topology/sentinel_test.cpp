// batond on a Redis replication group behind real Sentinels (one primary, two replicas, three
// sentinels), under a workload of leases, rate checks, sessions and secrets on three daemons:
// a SENTINEL FAILOVER, and a kill -9 of the primary. Each shows how long service stopped
// against how long the failover took, that fencing tokens never went backwards, and what became
// of the writes acknowledged after WAIT (redis.wait_replicas: 1, wait_short: fail).
#include <catch2/catch.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <mutex>
#include <thread>

#include "protocol/resp_client.hpp"
#include "tests/integration/secret_fixture.hpp"
#include "tests/support/reply_fields.hpp"
#include "tests/support/test_batond.hpp"
#include "tests/support/test_sentinel.hpp"

using namespace baton;
using namespace std::chrono_literals;
using protocol::resp_client;
using protocol::resp_value;
using steady = std::chrono::steady_clock;

namespace {

double ms_between(steady::time_point from, steady::time_point to) {
  return std::chrono::duration<double, std::milli>(to - from).count();
}

bool is_map(const resp_value& r) {
  return r.kind == resp_value::type::map || r.kind == resp_value::type::array;
}

// Three daemons on the group, and what their clients saw.
struct sentinel_fleet {
  test::test_sentinel_group group;
  test::temp_dir dir;
  std::vector<std::unique_ptr<test::test_batond>> daemons;

  sentinel_fleet() {
    auto config = test::write_secret_config(
        dir, "baton.yaml", "",
        "redis: {wait_replicas: 1, wait_timeout_ms: 500, call_timeout_ms: 1000,\n"
        "        reconnect_max_ms: 500}\n"
        "membership: {heartbeat_ms: 200, ttl_ms: 5000}\n"
        "rate:\n  policies:\n    - name: p\n      algorithm: sliding_window\n"
        "      windows: [{window_ms: 1000, limit: 1000000}]\n");
    for (int i = 0; i < 3; ++i)
      daemons.push_back(std::make_unique<test::test_batond>(
          group.url(),
          std::vector<std::string>{"--node-id", "n" + std::to_string(i), "--config", config}));
  }
};

// What one daemon's client did: every op with when it finished and whether it succeeded.
struct client_log {
  struct op {
    steady::time_point at;
    bool lease_ok; ///< a LEASE ACQUIRE granted: a write on the master, after WAIT
  };
  std::vector<op> ops;
  struct grant {
    std::int64_t token;
    bool released; ///< its RELEASE was confirmed: the next grant of the name is a new one
  };
  std::map<std::string, std::vector<grant>> tokens; ///< per name, in grant order
  std::vector<std::string> sessions;                ///< opened and acknowledged
  std::vector<std::int64_t> secret_versions;        ///< put and acknowledged
  std::map<std::string, int> outcomes;              ///< "LEASE ACQUIRE ok", ... counts
};

// One thread per daemon, each with its own client, round after round of: acquire a lease and
// release it, check a rate, open a session, read the secret, and on n0 put a new secret value
// every 25th round.
class workload {
public:
  explicit workload(sentinel_fleet& fleet) : logs_(fleet.daemons.size()) {
    for (std::size_t d = 0; d < fleet.daemons.size(); ++d)
      threads_.emplace_back(
          [this, d, socket = fleet.daemons[d]->socket_path()] { run(d, socket); });
  }
  ~workload() { stop(); }

  void stop() {
    running_ = false;
    for (auto& t : threads_)
      if (t.joinable()) t.join();
  }
  const std::vector<client_log>& logs() const { return logs_; }

private:
  static std::string outcome_of(const resp_value& r) {
    if (!r.is_error()) return "ok";
    auto space = r.str.find(' ');
    return r.str.substr(0, space); // UNAVAILABLE, UNKNOWN, DENIED, ...
  }

  void run(std::size_t d, const std::string& socket) {
    auto& log = logs_[d];
    std::unique_ptr<resp_client> client;
    for (int round = 0; running_; ++round) {
      try {
        if (!client) client = std::make_unique<resp_client>(socket, 5000);
        auto name = "w" + std::to_string(d) + "-" + std::to_string(round % 4);
        auto granted = client->call({"LEASE", "ACQUIRE", name, "20000"});
        ++log.outcomes["LEASE ACQUIRE " + outcome_of(granted)];
        log.ops.push_back({steady::now(), is_map(granted) && !granted.is_error()});
        if (log.ops.back().lease_ok) {
          auto token = test::field(granted, "token");
          auto released = client->call({"LEASE", "RELEASE", name, std::to_string(token)});
          log.tokens[name].push_back({token, !released.is_error()});
        }
        ++log.outcomes["RATE CHECK " + outcome_of(client->call({"RATE", "CHECK", "p", "k"}))];
        auto opened = client->call({"SESSION", "OPEN", "user-" + std::to_string(d), "600000"});
        ++log.outcomes["SESSION OPEN " + outcome_of(opened)];
        if (!opened.is_error()) log.sessions.push_back(test::text_field(opened, "id"));
        ++log.outcomes["SECRET GET " + outcome_of(client->call({"SECRET", "GET", "s"}))];
        if (d == 0 && round % 25 == 0) {
          auto put = client->call({"SECRET", "PUT", "s", "value-" + std::to_string(round)});
          ++log.outcomes["SECRET PUT " + outcome_of(put)];
          if (!put.is_error()) log.secret_versions.push_back(test::field(put, "version"));
        }
      } catch (const std::exception&) {
        ++log.outcomes["client I/O error"];
        client.reset();
      }
      std::this_thread::sleep_for(5ms);
    }
  }

  std::atomic<bool> running_{true};
  std::vector<client_log> logs_;
  std::vector<std::thread> threads_;
};

// How long each daemon went without a granted lease after `fault`: the longest time between
// two grants (or from the fault to the first one). Calls wait within their budget while the
// link holds or redials, so a stop shows here, not as a count of refusals.
std::vector<double> longest_stop(const workload& w, steady::time_point fault,
                                 steady::time_point settled, steady::time_point end) {
  std::vector<double> out;
  for (const auto& log : w.logs()) {
    steady::time_point last_grant = fault;
    double longest = 0;
    bool served_after = false; // a daemon that never serves again must fail, not score 0
    for (const auto& op : log.ops)
      if (op.at >= fault && op.lease_ok) {
        longest = std::max(longest, ms_between(last_grant, op.at));
        last_grant = op.at;
        served_after = served_after || op.at > settled;
      }
    CHECK(served_after);
    out.push_back(std::max(longest, ms_between(last_grant, end)));
  }
  return out;
}

// The checks every fault shares; prints what it measured. Returns the number of acknowledged
// sessions and secret versions that are gone.
std::size_t check_after(sentinel_fleet& fleet, const workload& w, const char* fault_name,
                        double failover_ms, const std::vector<double>& resumed) {
  std::size_t grants = 0;
  for (const auto& log : w.logs())
    for (const auto& [name, tokens] : log.tokens) {
      grants += tokens.size();
      for (std::size_t i = 1; i < tokens.size(); ++i) {
        INFO(name << " grant " << i << " after a " << fault_name);
        // A name still held (its release failed in the outage) is extended by the next
        // ACQUIRE on the same connection under the same token; a new grant has a higher one.
        if (tokens[i - 1].released)
          CHECK(tokens[i].token > tokens[i - 1].token);
        else
          CHECK(tokens[i].token >= tokens[i - 1].token);
      }
    }
  resp_client c(fleet.daemons[0]->socket_path());
  std::size_t sessions = 0, lost_sessions = 0;
  for (const auto& log : w.logs())
    for (const auto& id : log.sessions) {
      ++sessions;
      auto got = c.call({"SESSION", "GET", id});
      REQUIRE_FALSE(got.is_error());
      if (got.kind == resp_value::type::null) ++lost_sessions;
    }
  auto info = c.call({"SECRET", "INFO", "s"});
  std::size_t versions = 0, lost_versions = 0;
  const auto* listed = test::find_field(info, "versions");
  for (auto version : w.logs()[0].secret_versions) {
    ++versions;
    bool found = false;
    for (const auto& v : listed ? listed->elements : std::vector<resp_value>{})
      found = found || test::field(v, "version") == version;
    if (!found) ++lost_versions;
  }
  std::printf("\n%s: failover took %.0f ms (seen by the test, polling); longest time without "
              "a lease grant",
              fault_name, failover_ms);
  for (auto r : resumed)
    std::printf(" %.0f", r);
  std::printf(" ms on the 3 daemons\n  %zu grants in order; %zu of %zu acknowledged sessions "
              "and %zu of %zu secret versions lost\n  outcomes:",
              grants, lost_sessions, sessions, lost_versions, versions);
  std::map<std::string, int> outcomes;
  for (const auto& log : w.logs())
    for (const auto& [what, n] : log.outcomes)
      outcomes[what] += n;
  for (const auto& [what, n] : outcomes)
    std::printf(" [%s] %d", what.c_str(), n);
  std::printf("\n");
  CHECK(grants > 0);
  CHECK(sessions > 0);
  return lost_sessions + lost_versions;
}

void prepare(sentinel_fleet& fleet) {
  resp_client c(fleet.daemons[0]->socket_path());
  REQUIRE_FALSE(c.call({"SECRET", "PUT", "s", "first"}).is_error());
}

} // namespace

TEST_CASE("sentinel: batond follows a SENTINEL FAILOVER and tokens never go backwards") {
  sentinel_fleet fleet;
  prepare(fleet);
  workload w(fleet);
  std::this_thread::sleep_for(1500ms);
  fleet.group.wait_until_settled();
  auto fault = steady::now();
  fleet.group.failover();
  auto settled = steady::now();
  std::this_thread::sleep_for(3000ms);
  auto end = steady::now();
  w.stop();
  auto resumed = longest_stop(w, fault, settled, end);
  double failover_ms = ms_between(fault, settled);
  // A manual failover leaves the old master writable until the sentinels demote it, and the
  // replica not promoted acknowledges writes there until it is moved: without the hold from
  // +failover-state-select-slave, a second of writes was lost (measured: 425 sessions of 2090,
  // 6 of 29 secret versions). With it, none.
  CHECK(check_after(fleet, w, "SENTINEL FAILOVER", failover_ms, resumed) == 0);
  for (auto r : resumed)
    CHECK(r <= failover_ms + 2500); // the target is + 1 s; room for a loaded machine
  for (auto& d : fleet.daemons)
    CHECK(d->log().find("sentinels name a new master") != std::string::npos);
  if (std::getenv("DUMP")) std::printf("%s\n", fleet.daemons[0]->log().c_str());
}

TEST_CASE("sentinel: a kill -9 of the master loses no acknowledged session or secret version") {
  sentinel_fleet fleet;
  prepare(fleet);
  workload w(fleet);
  std::this_thread::sleep_for(1500ms);
  fleet.group.wait_until_settled();
  auto old_port = fleet.group.master_port();
  auto fault = steady::now();
  fleet.group.kill_master();
  fleet.group.wait_for_new_master(old_port);
  auto settled = steady::now();
  std::this_thread::sleep_for(3000ms);
  auto end = steady::now();
  w.stop();
  auto resumed = longest_stop(w, fault, settled, end);
  double failover_ms = ms_between(fault, settled);
  // Every acknowledged durable write was on a replica, and Sentinel promotes the replica with
  // the highest offset it last saw (both replicas here keep up; see docs/topologies.md for
  // when that is not the one that has the write).
  CHECK(check_after(fleet, w, "kill -9 of the master", failover_ms, resumed) == 0);
  for (auto r : resumed)
    CHECK(r <= failover_ms + 2500);
}

TEST_CASE("sentinel: a KEEP lease whose grant the failover lost is reported lost at once") {
  // The replicas are made writable so that the test can take the grant off them (a write they
  // missed, as asynchronous replication may): whichever is promoted lacks it.
  test::test_sentinel_group group;
  auto old_master = group.master_port();
  std::vector<unsigned short> replicas;
  for (auto port : group.server_ports())
    if (port != old_master) replicas.push_back(port);
  for (auto port : replicas)
    REQUIRE(group.server_on(port).cli({"CONFIG", "SET", "replica-read-only", "no"}) == "OK");
  test::test_batond daemon(group.url(), {"--node-id", "n0"});
  auto holder = std::make_unique<resp_client>(daemon.socket_path(), 5000);
  REQUIRE(holder->call({"HELLO", "3"}).kind == resp_value::type::map);
  // A long TTL: its first renewal would come 20 s later, past the holder's 5 s read timeout.
  auto token = test::field(holder->call({"LEASE", "ACQUIRE", "job", "60000", "KEEP"}), "token");
  for (auto port : replicas) {
    auto& replica = group.server_on(port);
    REQUIRE(test::eventually([&] { return replica.cli({"EXISTS", "baton:lease:{job}"}) == "1"; }));
    REQUIRE(replica.cli({"DEL", "baton:lease:{job}"}) == "1");
  }
  group.failover();
  resp_value lost;
  do
    lost = holder->read(); // throws after 5 s without a push
  while (lost.kind != resp_value::type::push);
  REQUIRE(lost.elements.size() >= 4);
  CHECK(lost.elements[0].str == "lease");
  CHECK(lost.elements[1].str == "lost");
  CHECK(lost.elements[2].str == "job");
  CHECK(lost.elements[3].integer == token);
  auto renew = holder->call({"LEASE", "RENEW", "job", std::to_string(token)});
  REQUIRE(renew.is_error());
  CHECK(renew.str.rfind("LOST", 0) == 0);
  // Another holder gets the name under a higher token.
  resp_client other(daemon.socket_path());
  CHECK(test::field(other.call({"LEASE", "ACQUIRE", "job", "10000"}), "token") > token);
}

TEST_CASE("sentinel: no sentinel to ask, or none that knows the master: UNAVAILABLE, not a hang") {
  auto nobody = test::free_port();
  test::test_batond alone("redis-sentinel://127.0.0.1:" + std::to_string(nobody) + "/baton",
                          {"--node-id", "alone"});
  resp_client c(alone.socket_path(), 5000);
  CHECK(c.call({"PING"}).str == "PONG"); // the local API serves without Redis
  auto started = steady::now();
  auto refused = c.call({"LEASE", "ACQUIRE", "job", "1000"});
  CHECK(refused.is_error());
  CHECK(refused.str.rfind("UNAVAILABLE", 0) == 0);
  CHECK(ms_between(started, steady::now()) < 3000);

  test::test_sentinel_group group(1, 1);
  auto url = group.url();
  url.replace(url.rfind('/') + 1, std::string::npos, "no-such-master");
  test::test_batond lost(url, {"--node-id", "lost"});
  resp_client l(lost.socket_path(), 5000);
  auto unknown = l.call({"LEASE", "ACQUIRE", "job", "1000"});
  CHECK(unknown.is_error());
  CHECK(unknown.str.rfind("UNAVAILABLE", 0) == 0);
  CHECK(test::eventually(
      [&] { return lost.log().find("no sentinel names the master") != std::string::npos; }));
}
