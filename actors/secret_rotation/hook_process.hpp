// Runs a rotation hook as a process and waits for it: a command (through /bin/sh -c) given
// some bytes on stdin, whose stdout and exit status are the answer, killed with everything it
// started if it runs past its timeout. It blocks, so only detached actors call it
// (hook_runner.hpp). Hooks are how a rotation asks a provider (Stripe, a database) for a new
// key and tries it.
//
// A hook starts clean: its environment is PATH, LANG and the BATON_* variables it is given
// (the daemon's own environment may name KEK variables), and it inherits no descriptor but
// stdin, stdout and stderr (not the daemon's sockets nor its Redis connections).
#pragma once

#include <chrono>
#include <string>
#include <vector>

#include "model/secret/secure_bytes.hpp"

namespace baton::secret {

/// The PATH a hook runs with.
inline constexpr const char* hook_path = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

struct hook_result {
  bool ok = false;     ///< exited with status 0 in time
  secure_bytes output; ///< stdout (at most 1 MiB), zeroed when released
  std::string why;     ///< when not ok: exit status, signal, timeout, or cannot start
};

/// Runs `command` with `input` on stdin and `environment` ("NAME=value") added to the clean
/// one; returns when it has exited or was killed at `timeout`.
hook_result run_hook(const std::string& command, const secure_bytes& input,
                     const std::vector<std::string>& environment,
                     std::chrono::milliseconds timeout);

/// Kills every hook running now and any started from now on (the daemon is stopping).
void kill_running_hooks();

} // namespace baton::secret
