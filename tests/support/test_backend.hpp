// The Redis a test runs on, by the environment: a private redis-server of its own (test_redis),
// or, with BATON_TEST_REDIS=cluster, a Redis Cluster of three primaries and three replicas,
// started once for the test process and emptied (FLUSHALL on every primary) for each test, as a
// fresh server would be. Tests that never kill, pause or restart Redis take one, so the same
// tests show every family on both topologies (ctest runs them once more on a cluster).
#pragma once

#include <memory>
#include <string>
#include <vector>

namespace baton::test {

class test_redis;

class test_backend {
public:
  test_backend();
  ~test_backend();
  test_backend(const test_backend&) = delete;
  test_backend& operator=(const test_backend&) = delete;

  /// True when this process runs its tests on a Redis Cluster.
  static bool clustered();
  /// What batond's --redis takes: unix:///... or redis-cluster://...
  std::string url() const;
  /// Runs redis-cli against the server, or the cluster (following redirects), and returns its
  /// output (trimmed).
  std::string cli(const std::vector<std::string>& args) const;

private:
  std::unique_ptr<test_redis> own_; ///< not on a cluster
};

} // namespace baton::test
