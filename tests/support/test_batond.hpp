// Runs the real batond binary for a test, with its own socket and HTTP port, against a
// test_redis; captures its log; stops it with SIGTERM (or kills it, like a crash).
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

#include "tests/support/test_redis.hpp"

namespace baton::test {

class test_batond {
public:
  /// Starts batond with `--redis redis_url` and `extra` flags; waits until it answers PING.
  /// Its state directory is its own temporary one unless `extra` names another. `wrapper`
  /// runs it under another program (e.g. test::clock_shift_wrapper).
  test_batond(const std::string& redis_url, std::vector<std::string> extra = {},
              std::vector<std::string> wrapper = {});
  ~test_batond();

  const std::string& socket_path() const { return socket_; }
  unsigned short http_port() const { return http_port_; }
  pid_t pid() const { return pid_; }
  std::string log() const; ///< what it wrote to stderr so far

  /// SIGTERM and wait; returns the exit status.
  int stop();
  /// Waits for the process to exit on its own (after a signal the test sent); exit status.
  int wait_exit();
  void kill();
  void signal(int sig);

  /// Starts batond with arbitrary arguments and waits for it to exit; returns the exit code.
  static int run_to_exit(const std::vector<std::string>& args, std::string* output);

private:
  temp_dir dir_;
  std::string socket_;
  unsigned short http_port_;
  pid_t pid_ = -1;
};

/// GET http://127.0.0.1:port/path; returns the status code and fills body.
int http_get(unsigned short port, const std::string& path, std::string* body = nullptr);

} // namespace baton::test
