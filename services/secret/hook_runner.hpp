// Runs a rotation hook: a command (through /bin/sh -c) given some bytes on stdin, whose
// stdout and exit status are the answer, killed if it runs past its timeout. The wait
// happens on a thread of its own so the I/O thread never blocks; the result is posted back.
// Hooks are how a rotation asks a provider (Stripe, a database) for a new key and tries it.
#pragma once

#include <boost/asio/io_context.hpp>

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "services/secret/secure_bytes.hpp"

namespace baton::secret {

struct hook_result {
  bool ok = false;     ///< exited with status 0 in time
  secure_bytes output; ///< stdout (at most 1 MiB), zeroed when released
  std::string why;     ///< when not ok: exit status, signal, timeout, or cannot start
};

/// Starts hooks and owns their threads: destroying it (daemon shutdown) kills the hooks still
/// running and waits for their threads, so no result is posted to an io_context that is gone.
class hook_runner {
public:
  explicit hook_runner(boost::asio::io_context& io) : io_(io) {}
  ~hook_runner();
  hook_runner(const hook_runner&) = delete;
  hook_runner& operator=(const hook_runner&) = delete;

  /// Runs `command` with `input` on stdin and `environment` added ("NAME=value"); `done`
  /// runs on the io_context's thread (never after the runner is destroyed).
  void run(const std::string& command, secure_bytes input, std::vector<std::string> environment,
           std::chrono::milliseconds timeout, std::function<void(hook_result)> done);

private:
  struct shared_state; // what the hook threads and the runner share, under a mutex
  boost::asio::io_context& io_;
  std::shared_ptr<shared_state> state_ = make_state();
  static std::shared_ptr<shared_state> make_state();
};

} // namespace baton::secret
