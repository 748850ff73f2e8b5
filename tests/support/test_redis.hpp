// Starts a private redis-server for a test (its own temp dir, Unix socket and TCP port, no
// persistence) and stops it afterwards. Tests can kill it, restart it, pause it, and start
// it with TLS or ACL users. Never a mock: this is Debian's real redis-server.
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

namespace baton::test {

/// A fresh temporary directory, removed by the destructor.
class temp_dir {
public:
  temp_dir();
  ~temp_dir();
  const std::string& path() const { return path_; }
  std::string file(const std::string& name) const { return path_ + "/" + name; }

private:
  std::string path_;
};

/// A free TCP port on 127.0.0.1 (bound, read, released).
unsigned short free_port();

class test_redis {
public:
  /// Starts at once on a private Unix socket (no TCP); `extra` args go to redis-server
  /// (e.g. TLS options with their own port).
  explicit test_redis(std::vector<std::string> extra = {});
  ~test_redis();

  const std::string& socket_path() const { return socket_; }
  std::string unix_url() const { return "unix://" + socket_; }
  /// The URL batond's --redis takes, as test_backend::url() names it.
  std::string url() const { return unix_url(); }
  const std::string& dir() const { return dir_.path(); }

  void start();
  /// From the next start on, runs redis-server under `prefix` (e.g. clock_shift_wrapper()).
  void run_under(std::vector<std::string> prefix) { wrapper_ = std::move(prefix); }
  void kill(); ///< SIGKILL, like a crash
  void stop(); ///< SHUTDOWN NOSAVE and wait
  void restart() {
    kill();
    start();
  }
  bool running() const { return pid_ > 0; }
  /// SIGSTOP / SIGCONT: Redis stalls without closing its connections (a long fork, a swap
  /// storm, a VM pause), the case that makes leases lapse silently elsewhere.
  void pause();
  void resume();
  /// Runs redis-cli against this server and returns its output (trimmed).
  std::string cli(const std::vector<std::string>& args) const;

private:
  temp_dir dir_;
  std::string socket_;
  std::vector<std::string> extra_;
  std::vector<std::string> wrapper_;
  pid_t pid_ = -1;
};

/// A command prefix that runs a program with its wall clock moved by `seconds` (negative:
/// behind); monotonic clocks stay real, so timers and timeouts are unaffected.
std::vector<std::string> clock_shift_wrapper(long seconds);

/// Starts a program (args[0], searched in PATH) with stdout and stderr to `log_path`
/// (inherited if empty); returns its pid.
pid_t spawn(std::vector<std::string> args, const std::string& log_path);

/// Waits until a RESP server on `socket` answers PING.
bool answers_ping(const std::string& socket, int timeout_ms = 10000);

/// Runs a shell command; returns its exit status and fills `output` with stdout+stderr.
int run_command(const std::string& command, std::string* output = nullptr);

/// Polls `predicate` every few ms until it holds or `timeout_ms` passes.
template <class Predicate>
bool eventually(Predicate predicate, int timeout_ms = 5000);
/// eventually() with 100 ms between checks, for checks that fork redis-cli or open connections
/// to many servers: polled every 5 ms on 2 busy cores, they would take time from the servers'
/// own failure detection (sentinels even enter TILT mode and do nothing for 30 s).
template <class Check>
bool slowly_eventually(Check check, int timeout_ms);
/// A free loopback port not in `taken` (free_port() releases the port it found, so two calls
/// can give the same one).
unsigned short unused_port(const std::vector<unsigned short>& taken);

} // namespace baton::test

#include <chrono>
#include <thread>

template <class Predicate>
bool baton::test::eventually(Predicate predicate, int timeout_ms) {
  auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  while (std::chrono::steady_clock::now() < until) {
    if (predicate()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return predicate();
}
template <class Check>
bool baton::test::slowly_eventually(Check check, int timeout_ms) {
  return eventually(
      [&] {
        if (check()) return true;
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
        return false;
      },
      timeout_ms);
}
