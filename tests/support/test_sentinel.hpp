// Starts a private Redis replication group watched by real Sentinels for a test: a primary
// and N replicas (test_redis servers, each on a loopback TCP port besides its Unix socket,
// since replicas and sentinels reach each other over TCP) and M redis-sentinel processes.
// Tests fail over, kill the master and restart servers to see what batond does when the
// master moves. Never a mock: Debian's real redis-server and redis-sentinel.
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <memory>
#include <string>
#include <vector>

#include "tests/support/test_redis.hpp"

namespace baton::test {

class test_sentinel_group {
public:
  /// Starts the group and waits until a failover could happen (about 2.5 s): every replica in
  /// sync, then the group settled (see wait_until_settled()). Throws std::runtime_error,
  /// naming a log, if it is not ready in time or a sentinel exits.
  explicit test_sentinel_group(std::size_t replicas = 2, std::size_t sentinels = 3,
                               int down_after_ms = 1000, std::string master_name = "baton");
  ~test_sentinel_group();
  test_sentinel_group(const test_sentinel_group&) = delete;
  test_sentinel_group& operator=(const test_sentinel_group&) = delete;

  /// "redis-sentinel://127.0.0.1:S1,127.0.0.1:S2,.../master_name", the URL batond accepts.
  std::string url() const;
  const std::string& master_name() const { return master_name_; }
  /// The master's port as the first sentinel that answers reports it.
  unsigned short master_port() const;
  /// The server listening on `port` (throws std::out_of_range for another port).
  test_redis& server_on(unsigned short port);
  const test_redis& server_on(unsigned short port) const;
  test_redis& master() { return server_on(master_port()); }
  /// Runs redis-cli against sentinel `i` over TCP and returns its output (trimmed).
  std::string sentinel_cli(std::size_t i, const std::vector<std::string>& args) const;

  /// Waits (up to 45 s; ~20 s after a failover) until the group is settled: every sentinel names
  /// the same master, which says it is one, sees every other running server as its replica in sync,
  /// and sees the other sentinels. Throws std::runtime_error otherwise. A paused server counts as
  /// running, so this waits in vain for a paused replica.
  void wait_until_settled();
  /// Waits until settled (a sentinel that has not yet noticed a restarted server became a
  /// replica would turn the replica being promoted back into one, and the failover would
  /// abort), then SENTINEL FAILOVER, retried while the sentinel cannot start one yet;
  /// returns once every sentinel names a new master and that server says it is one. Writes
  /// not yet replicated are lost, as in production: WAIT before failing over if a test needs
  /// them.
  void failover();
  /// Waits until every sentinel names the same master other than `old_port`, and that server
  /// says it is one; returns its port. Throws std::runtime_error on timeout.
  unsigned short wait_for_new_master(unsigned short old_port, int timeout_ms = 30000);
  /// Waits until settled (as failover() does, for the same reason), then SIGKILLs the
  /// master, like a crash; the sentinels fail over after down_after_ms.
  void kill_master();
  /// Starts the server on `port` again (killing it first if it still runs). A former master
  /// comes back as a master with an empty dataset, a replica as a replica of the first
  /// primary; either way the sentinels make it a replica of the current master after about
  /// 10 s. Returns at once, so a test can watch that window.
  void restart_server(unsigned short port);

  std::vector<unsigned short> server_ports() const { return ports_; }
  std::vector<unsigned short> sentinel_ports() const;

private:
  /// One redis-sentinel process; the destructor kills it, so none outlives the fixture, even
  /// when the constructor throws half way.
  struct sentinel_process {
    unsigned short port = 0;
    pid_t pid = -1;
    ~sentinel_process();
  };

  /// The master port every sentinel names, or 0 while they disagree or one does not answer.
  unsigned short agreed_master_port() const;
  /// What the group still waits for to be settled (see wait_until_settled()), "" if nothing.
  std::string unsettled() const;
  /// Throws if a sentinel has exited (a bad conf file, a port taken meanwhile).
  void check_sentinels_run();
  std::string sentinel_log(std::size_t i) const;

  std::string master_name_;
  // Declared before the sentinels, so destroyed after them: a sentinel never sees its servers
  // die and the directory holding its conf outlives it.
  std::vector<std::unique_ptr<test_redis>> servers_;
  std::vector<unsigned short> ports_; ///< TCP port of servers_[i]; the first primary is [0]
  temp_dir sentinel_dir_;             ///< sentinel-i.conf (rewritten by it), sentinel-i.log
  std::vector<std::unique_ptr<sentinel_process>> sentinels_;
};

} // namespace baton::test
