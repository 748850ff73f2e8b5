// A private replication group watched by Sentinels; see test_sentinel.hpp.
#include "tests/support/test_sentinel.hpp"

#include <signal.h>
#include <sys/wait.h>

#include <algorithm>
#include <chrono>
#include <fstream>
#include <map>
#include <stdexcept>
#include <thread>
#include <utility>

namespace baton::test {

namespace {

// CI machines are loaded: a sentinel needs a few seconds to find its peers (they announce
// themselves every 2 s) and more when the machine is busy.
constexpr int ready_timeout_ms = 30000;
// Settling after a failover takes ~20 s on an idle machine: each sentinel turns the old
// master into a replica only after it has said "master" for 8 s, and the others notice at
// their next INFO of it, every 10 s.
constexpr int sentinel_settle_timeout_ms = 45000;

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> lines;
  std::size_t start = 0;
  while (start < text.size()) {
    auto end = text.find('\n', start);
    if (end == std::string::npos) end = text.size();
    auto line = text.substr(start, end - start);
    if (!line.empty() && line.back() == '\r') line.pop_back();
    lines.push_back(line);
    start = end + 1;
  }
  return lines;
}

// redis-cli prints a SENTINEL master / replicas / sentinels reply as field, value, field,
// value ... one a line, each instance starting with its "name".
std::vector<std::map<std::string, std::string>> instances_in(const std::string& reply) {
  auto lines = lines_of(reply);
  std::vector<std::map<std::string, std::string>> instances;
  for (std::size_t i = 0; i + 1 < lines.size(); i += 2) {
    if (lines[i] == "name") instances.emplace_back();
    if (!instances.empty()) instances.back()[lines[i]] = lines[i + 1];
  }
  return instances;
}

// The port in a get-master-addr-by-name reply ("127.0.0.1\n6379"), or 0 for anything else:
// an error, an empty reply for an unknown name, "Could not connect".
unsigned short port_in(const std::string& reply) {
  auto lines = lines_of(reply);
  if (lines.size() != 2 || lines[1].empty() || lines[1].size() > 5) return 0;
  if (!std::all_of(lines[1].begin(), lines[1].end(), [](char c) { return c >= '0' && c <= '9'; }))
    return 0;
  auto port = std::stoul(lines[1]);
  return port <= 65535 ? static_cast<unsigned short>(port) : 0;
}

} // namespace

test_sentinel_group::sentinel_process::~sentinel_process() {
  if (pid <= 0) return;
  ::kill(pid, SIGKILL);
  ::waitpid(pid, nullptr, 0);
}

test_sentinel_group::test_sentinel_group(std::size_t replicas, std::size_t sentinels,
                                         int down_after_ms, std::string master_name)
    : master_name_(std::move(master_name)) {
  std::vector<unsigned short> taken;
  for (std::size_t i = 0; i <= replicas; ++i)
    taken.push_back(unused_port(taken));
  auto primary = std::to_string(taken[0]);
  for (std::size_t i = 0; i <= replicas; ++i) {
    // A master waits 5 s by default before a full sync, hoping more replicas come to share it;
    // every sync here (at start, after each failover) would pay that.
    std::vector<std::string> extra = {"--port", std::to_string(taken[i]),
                                      "--repl-diskless-sync-delay", "0"};
    if (i > 0) extra.insert(extra.end(), {"--replicaof", "127.0.0.1", primary});
    servers_.push_back(std::make_unique<test_redis>(std::move(extra)));
    ports_.push_back(taken[i]);
  }

  // Sentinels start once the replicas are in sync: a sentinel learns of replicas from the
  // master's INFO, which it reads again only every 10 s.
  std::string waiting_for;
  bool ready = slowly_eventually(
      [&] {
        for (std::size_t i = 1; i < servers_.size(); ++i)
          if (servers_[i]->cli({"INFO", "replication"}).find("master_link_status:up") ==
              std::string::npos) {
            waiting_for = "replica on port " + std::to_string(ports_[i]) + " to sync; see " +
                          servers_[i]->dir() + "/redis.log";
            return false;
          }
        return true;
      },
      ready_timeout_ms);
  if (!ready) throw std::runtime_error("sentinel group: gave up waiting for " + waiting_for);

  auto quorum = std::to_string(sentinels / 2 + 1);
  auto down_after = std::to_string(down_after_ms);
  for (std::size_t i = 0; i < sentinels; ++i) {
    auto process = std::make_unique<sentinel_process>();
    process->port = unused_port(taken);
    taken.push_back(process->port);
    auto conf = sentinel_dir_.file("sentinel-" + std::to_string(i) + ".conf");
    {
      std::ofstream out(conf);
      out << "port " << process->port << "\n"
          << "bind 127.0.0.1\n"
          << "daemonize no\n"
          << "dir " << sentinel_dir_.path() << "\n"
          << "logfile " << sentinel_log(i) << "\n"
          << "sentinel monitor " << master_name_ << " 127.0.0.1 " << primary << " " << quorum
          << "\n"
          << "sentinel down-after-milliseconds " << master_name_ << " " << down_after << "\n"
          << "sentinel failover-timeout " << master_name_ << " 10000\n"
          << "sentinel parallel-syncs " << master_name_ << " 1\n";
      if (!out) throw std::runtime_error("sentinel group: cannot write " + conf);
    }
    process->pid = spawn({"redis-sentinel", conf}, "");
    sentinels_.push_back(std::move(process));
  }

  wait_until_settled();
}

test_sentinel_group::~test_sentinel_group() {
  // Sentinels first: with servers gone they would only log and try to fail over.
  sentinels_.clear();
  servers_.clear();
}

std::string test_sentinel_group::url() const {
  std::string url = "redis-sentinel://";
  for (std::size_t i = 0; i < sentinels_.size(); ++i)
    url += (i > 0 ? ",127.0.0.1:" : "127.0.0.1:") + std::to_string(sentinels_[i]->port);
  return url + "/" + master_name_;
}

std::string test_sentinel_group::sentinel_log(std::size_t i) const {
  return sentinel_dir_.file("sentinel-" + std::to_string(i) + ".log");
}

std::vector<unsigned short> test_sentinel_group::sentinel_ports() const {
  std::vector<unsigned short> ports;
  for (const auto& s : sentinels_)
    ports.push_back(s->port);
  return ports;
}

std::string test_sentinel_group::sentinel_cli(std::size_t i,
                                              const std::vector<std::string>& args) const {
  std::string command = "redis-cli -h 127.0.0.1 -p " + std::to_string(sentinels_.at(i)->port);
  for (const auto& a : args)
    command += " '" + a + "'";
  std::string output;
  run_command(command, &output);
  while (!output.empty() && (output.back() == '\n' || output.back() == '\r'))
    output.pop_back();
  return output;
}

unsigned short test_sentinel_group::master_port() const {
  for (std::size_t i = 0; i < sentinels_.size(); ++i)
    if (auto port = port_in(sentinel_cli(i, {"SENTINEL", "get-master-addr-by-name", master_name_})))
      return port;
  throw std::runtime_error("sentinel group: no sentinel names the master");
}

unsigned short test_sentinel_group::agreed_master_port() const {
  unsigned short agreed = 0;
  for (std::size_t i = 0; i < sentinels_.size(); ++i) {
    auto port = port_in(sentinel_cli(i, {"SENTINEL", "get-master-addr-by-name", master_name_}));
    if (port == 0 || (agreed != 0 && port != agreed)) return 0;
    agreed = port;
  }
  return agreed;
}

const test_redis& test_sentinel_group::server_on(unsigned short port) const {
  for (std::size_t i = 0; i < ports_.size(); ++i)
    if (ports_[i] == port) return *servers_[i];
  throw std::out_of_range("sentinel group: no server on port " + std::to_string(port));
}

test_redis& test_sentinel_group::server_on(unsigned short port) {
  return const_cast<test_redis&>(std::as_const(*this).server_on(port));
}

void test_sentinel_group::check_sentinels_run() {
  for (std::size_t i = 0; i < sentinels_.size(); ++i) {
    auto& process = *sentinels_[i];
    if (process.pid > 0 && ::waitpid(process.pid, nullptr, WNOHANG) == process.pid) {
      process.pid = -1;
      throw std::runtime_error("sentinel group: sentinel " + std::to_string(i) +
                               " exited; see its error above or " + sentinel_log(i));
    }
  }
}

std::string test_sentinel_group::unsettled() const {
  auto master = agreed_master_port();
  if (master == 0) return "the sentinels to agree on a master; see " + sentinel_log(0);
  if (server_on(master).cli({"ROLE"}).rfind("master\n", 0) != 0)
    return "port " + std::to_string(master) + " to be a master";
  for (std::size_t i = 0; i < sentinels_.size(); ++i) {
    auto where =
        "sentinel " + std::to_string(i) + " (port " + std::to_string(sentinels_[i]->port) + ")";
    auto log = "; see " + sentinel_log(i);
    // Not "failover_in_progress", "s_down" or "o_down".
    auto flags = instances_in(sentinel_cli(i, {"SENTINEL", "master", master_name_}));
    if (flags.size() != 1 || flags[0]["flags"] != "master")
      return where + " to see the master up with no failover under way" + log;
    auto replicas = instances_in(sentinel_cli(i, {"SENTINEL", "replicas", master_name_}));
    for (std::size_t j = 0; j < servers_.size(); ++j) {
      if (ports_[j] == master || !servers_[j]->running()) continue;
      auto port = std::to_string(ports_[j]);
      auto known = std::find_if(replicas.begin(), replicas.end(),
                                [&](auto& r) { return r["port"] == port; });
      if (known == replicas.end()) return where + " to find the replica on port " + port + log;
      auto& r = *known;
      // A healthy replica's flags are exactly "slave"; the role it reported last must agree
      // (a restarted master says "master" until a sentinel reconfigures it).
      if (r["flags"] != "slave" || r["role-reported"] != "slave" ||
          r["master-port"] != std::to_string(master) || r["master-link-status"] != "ok")
        return where + " to see the replica on port " + port + " in sync (flags " + r["flags"] +
               ", role " + r["role-reported"] + ", master port " + r["master-port"] + ", link " +
               r["master-link-status"] + ")" + log;
    }
    auto others = instances_in(sentinel_cli(i, {"SENTINEL", "sentinels", master_name_}));
    auto healthy = std::count_if(others.begin(), others.end(),
                                 [](auto& o) { return o["flags"] == "sentinel"; });
    if (static_cast<std::size_t>(healthy) + 1 != sentinels_.size())
      return where + " to see " + std::to_string(sentinels_.size() - 1) +
             " other sentinels (sees " + std::to_string(healthy) + ")" + log;
  }
  return "";
}

void test_sentinel_group::wait_until_settled() {
  std::string waiting_for;
  bool settled = slowly_eventually(
      [&] {
        check_sentinels_run();
        waiting_for = unsettled();
        return waiting_for.empty();
      },
      sentinel_settle_timeout_ms);
  if (!settled) throw std::runtime_error("sentinel group: gave up waiting for " + waiting_for);
}

void test_sentinel_group::failover() {
  wait_until_settled();
  auto old_port = master_port();
  // Always the same sentinel (the first that answers): a second one asked after an INPROG
  // would start a failover of its own and promote another replica. NOGOODSLAVE should not
  // come once settled, but a sentinel on a busy machine may not have a fresh INFO yet.
  std::string reply;
  bool started = slowly_eventually(
      [&] {
        for (std::size_t i = 0; i < sentinels_.size(); ++i) {
          reply = sentinel_cli(i, {"SENTINEL", "FAILOVER", master_name_});
          if (reply.rfind("Could not connect", 0) != 0) break;
        }
        return reply == "OK";
      },
      15000);
  if (!started)
    throw std::runtime_error("sentinel group: SENTINEL FAILOVER kept failing: " + reply + "; see " +
                             sentinel_log(0));
  wait_for_new_master(old_port);
}

unsigned short test_sentinel_group::wait_for_new_master(unsigned short old_port, int timeout_ms) {
  unsigned short port = 0;
  bool moved = slowly_eventually(
      [&] {
        port = agreed_master_port();
        if (port == 0 || port == old_port) return false;
        return server_on(port).cli({"ROLE"}).rfind("master\n", 0) == 0;
      },
      timeout_ms);
  if (!moved)
    throw std::runtime_error("sentinel group: the sentinels did not agree on a master other "
                             "than port " +
                             std::to_string(old_port) + " in " + std::to_string(timeout_ms) +
                             " ms; see " + sentinel_log(0));
  return port;
}

void test_sentinel_group::kill_master() {
  wait_until_settled();
  master().kill();
}

void test_sentinel_group::restart_server(unsigned short port) {
  server_on(port).restart();
}

} // namespace baton::test
