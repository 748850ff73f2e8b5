// A test's Redis: its own server or the process's cluster; see test_backend.hpp.
#include "tests/support/test_backend.hpp"

#include <cstdlib>
#include <cstring>
#include <stdexcept>

#include "tests/support/test_cluster.hpp"
#include "tests/support/test_redis.hpp"

namespace baton::test {

namespace {

// One cluster for the whole test process: starting six servers for each test would cost
// seconds per test. Destroyed (its servers killed) when the process exits.
test_cluster& shared_cluster() {
  static test_cluster cluster(3, 1);
  return cluster;
}

std::string quoted(const std::string& text) {
  std::string out = "'";
  for (char c : text)
    out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

} // namespace

bool test_backend::clustered() {
  const char* topology = std::getenv("BATON_TEST_REDIS");
  return topology != nullptr && std::strcmp(topology, "cluster") == 0;
}

test_backend::test_backend() {
  if (!clustered()) {
    own_ = std::make_unique<test_redis>();
    return;
  }
  auto& cluster = shared_cluster();
  for (auto port : cluster.primary_ports()) {
    auto out = cluster.cli(port, {"FLUSHALL"});
    if (out != "OK") throw std::runtime_error("FLUSHALL on :" + std::to_string(port) + ": " + out);
  }
}

test_backend::~test_backend() = default;

std::string test_backend::url() const {
  return own_ ? own_->unix_url() : shared_cluster().url();
}

std::string test_backend::cli(const std::vector<std::string>& args) const {
  if (own_) return own_->cli(args);
  auto& cluster = shared_cluster();
  auto run_on = [&](unsigned short port) {
    // -c: follow MOVED and ASK, as a cluster client does.
    std::string command = "redis-cli -c -p " + std::to_string(port);
    for (const auto& a : args)
      command += " " + quoted(a);
    std::string output;
    run_command(command, &output);
    while (!output.empty() && (output.back() == '\n' || output.back() == '\r'))
      output.pop_back();
    return output;
  };
  // What a single server does for its whole keyspace, a cluster does per primary: FLUSHALL
  // empties each, KEYS lists each one's keys.
  std::string verb;
  for (const auto& a : args)
    if (a.rfind("--", 0) != 0) {
      verb = a;
      break;
    }
  if (verb == "FLUSHALL" || verb == "KEYS") {
    std::string joined;
    for (auto port : cluster.primary_ports()) {
      auto out = run_on(port);
      if (verb == "FLUSHALL" && out != "OK") return out;
      if (!out.empty()) joined += (joined.empty() ? "" : "\n") + out;
    }
    return verb == "FLUSHALL" ? "OK" : joined;
  }
  return run_on(cluster.primary_ports().front());
}

} // namespace baton::test
