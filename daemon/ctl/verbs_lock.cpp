// Holding a lease (or a group's leadership) while a command runs, like flock, `consul lock`
// and `etcdctl lock`; see verbs.hpp.
//
// The lease is taken with KEEP on this process's connection: batond renews it while the
// connection is open and pushes `lost` when it cannot (Redis paused or unreachable past the
// safe validity, or an admin's FORCE release). COMMAND gets the fencing token in
// BATON_FENCING_TOKEN, so what it writes to can refuse a writer with an older token. When the
// lease is lost, or batond's connection breaks (its renewals stop with it), COMMAND is sent
// SIGTERM, then SIGKILL after the grace, and batonctl exits 4. Otherwise batonctl exits with
// COMMAND's status (128+N for a signal N) and releases the lease.
//
// Signals sent to batonctl alone (kill, systemd) are forwarded to COMMAND. Those a terminal
// sends (Ctrl-C) reach COMMAND by themselves, as the whole foreground group gets them, so they
// are not sent twice. Everything waits in one poll() over a signalfd and the connection.
#include <poll.h>
#include <signal.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <iostream>
#include <optional>

#include "daemon/ctl/verbs.hpp"

namespace baton::ctl {
namespace {

using steady = std::chrono::steady_clock;

struct hold_request {
  bool election = false;
  std::string name;      ///< the lease, or the group
  std::string candidate; ///< an election's
  std::int64_t ttl_ms = 10000;
  std::optional<std::int64_t> wait_ms;
  std::int64_t grace_ms = 10000;
  std::vector<std::string> command; ///< empty: hold until interrupted
};

/// Blocks the signals handled here, reads them from a signalfd, and restores the mask.
class signal_inbox {
public:
  signal_inbox() {
    sigemptyset(&handled_);
    for (int s : {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2, SIGCHLD}) {
      // An ignored signal is discarded even while blocked: a parent that ignores SIGCHLD
      // (inherited across exec) would leave us waiting for news of COMMAND's end.
      signal(s, SIG_DFL);
      sigaddset(&handled_, s);
    }
    sigprocmask(SIG_BLOCK, &handled_, &previous_);
    fd_ = signalfd(-1, &handled_, SFD_CLOEXEC | SFD_NONBLOCK);
  }
  ~signal_inbox() {
    if (fd_ >= 0) close(fd_);
    sigprocmask(SIG_SETMASK, &previous_, nullptr);
  }
  int fd() const { return fd_; }
  const sigset_t& previous() const { return previous_; }
  /// The next signal, or nullopt.
  std::optional<signalfd_siginfo> next() const {
    signalfd_siginfo info{};
    if (read(fd_, &info, sizeof info) != static_cast<ssize_t>(sizeof info)) return std::nullopt;
    return info;
  }

private:
  sigset_t handled_{};
  sigset_t previous_{};
  int fd_ = -1;
};

/// Takes the lease or leadership; the token (term), or nullopt after printing why not.
std::optional<std::string> take(resp_client& client, const hold_request& r, const options& o) {
  for (;;) {
    std::vector<std::string> args;
    if (r.election) {
      args = {"ELECT", "JOIN", r.name, r.candidate, "TTL", std::to_string(r.ttl_ms)};
      // Without --wait, campaign until leading: ELECT JOIN waits at most an hour at a time.
      args.insert(args.end(), {"TIMEOUT", std::to_string(r.wait_ms.value_or(3600000))});
    } else {
      args = {"LEASE", "ACQUIRE", r.name, std::to_string(r.ttl_ms), "KEEP"};
      if (r.wait_ms) args.insert(args.end(), {"WAIT", std::to_string(*r.wait_ms)});
    }
    resp_value reply;
    try {
      reply = client.call(args);
    } catch (const std::exception& e) {
      throw unreachable(e.what());
    }
    if (reply.is_error() && r.election && !r.wait_ms && reply.str.rfind("DENIED", 0) == 0)
      continue; // an hour went by without leading: campaign on
    json out;
    if (reply.is_error()) {
      if (o.as_json)
        std::cout << json{{"ok", false}, {"error", reply.str}}.dump() << "\n";
      else
        std::cerr << "batonctl: " << reply.str << "\n";
      return std::nullopt;
    }
    out = to_json(reply);
    return text(out[r.election ? "term" : "token"]);
  }
}

/// True if `push` says this holder lost what it holds.
bool is_lost(const resp_value& push, const hold_request& r) {
  if (push.kind != resp_value::type::push || push.elements.size() < 3) return false;
  return push.elements[0].str == (r.election ? "elect" : "lease") &&
         push.elements[1].str == "lost" && push.elements[2].str == r.name;
}

pid_t start_command(const hold_request& r, const std::string& token, const sigset_t& mask) {
  pid_t child = fork();
  if (child != 0) return child;
  sigprocmask(SIG_SETMASK, &mask, nullptr);
  setenv("BATON_FENCING_TOKEN", token.c_str(), 1);
  setenv(r.election ? "BATON_ELECTION_GROUP" : "BATON_LEASE_NAME", r.name.c_str(), 1);
  std::vector<char*> argv;
  for (const auto& a : r.command)
    argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  execvp(argv[0], argv.data());
  std::fprintf(stderr, "batonctl: cannot run %s: %s\n", argv[0], std::strerror(errno));
  _exit(127);
}

int hold(const options& o, const hold_request& r) {
  signal_inbox signals;
  if (signals.fd() < 0) {
    std::cerr << "batonctl: signalfd: " << std::strerror(errno) << "\n";
    return exit_error;
  }
  auto client = connect(o, static_cast<int>(r.wait_ms.value_or(r.election ? 3600000 : 0)));
  auto token = take(*client, r, o);
  if (!token) return exit_error;
  const char* what = r.election ? "leadership of" : "lease";
  if (r.command.empty()) { // hold until interrupted
    if (o.as_json)
      std::cout
          << json{{"ok", true}, {"name", r.name}, {r.election ? "term" : "token", *token}}.dump()
          << std::endl;
    else
      std::cout << "holding " << what << " '" << r.name << "' under "
                << (r.election ? "term " : "token ") << *token << " until interrupted" << std::endl;
  }
  pid_t child = r.command.empty() ? -1 : start_command(r, *token, signals.previous());
  if (child < 0 && !r.command.empty()) {
    std::cerr << "batonctl: fork: " << std::strerror(errno) << "\n";
    return exit_error;
  }

  bool lost = false;
  bool done = false;
  int status = 0;
  std::optional<steady::time_point> kill_at;
  auto stop_command = [&](const std::string& why) {
    lost = true;
    std::cerr << "batonctl: " << what << " '" << r.name << "' " << why
              << (child > 0 ? ": stopping the command" : "") << "\n";
    if (child > 0) {
      kill(child, SIGTERM);
      kill_at = steady::now() + std::chrono::milliseconds(r.grace_ms);
    } else {
      done = true;
    }
  };
  while (!done) {
    if (!lost && client->buffered()) {
      try {
        if (is_lost(client->read(), r)) stop_command("was lost");
      } catch (const std::exception& e) {
        stop_command(std::string("cannot be kept: batond's connection broke (") + e.what() + ")");
      }
      continue;
    }
    pollfd fds[2] = {{signals.fd(), POLLIN, 0}, {client->fd(), POLLIN, 0}};
    // Also wake now and then to look for COMMAND's end: a SIGCHLD is the news, but one merged
    // with another or sent before the fork must not leave us waiting forever.
    int wait_ms = 250;
    if (kill_at)
      wait_ms = static_cast<int>(std::max<std::int64_t>(
          0,
          std::chrono::duration_cast<std::chrono::milliseconds>(*kill_at - steady::now()).count()));
    int ready = poll(fds, lost ? 1 : 2, wait_ms);
    if (ready < 0 && errno != EINTR) break;
    if (kill_at && steady::now() >= *kill_at) {
      kill(child, SIGKILL);
      kill_at.reset();
    }
    if (child > 0 && waitpid(child, &status, WNOHANG) == child) done = true;
    if (fds[0].revents & POLLIN) {
      while (auto s = signals.next()) {
        if (s->ssi_signo == SIGCHLD) {
          continue; // reaped above or on the next turn
        } else if (child > 0 && !done) {
          if (s->ssi_code != SI_KERNEL) kill(child, static_cast<int>(s->ssi_signo));
        } else {
          done = true; // holding without a command: a signal ends it
        }
      }
    }
    if (!lost && (fds[1].revents & (POLLIN | POLLHUP | POLLERR))) {
      try {
        if (is_lost(client->read(), r)) stop_command("was lost");
      } catch (const std::exception& e) {
        stop_command(std::string("cannot be kept: batond's connection broke (") + e.what() + ")");
      }
    }
  }
  if (!lost) {
    try { // give it back at once rather than at the end of its TTL
      if (r.election)
        client->call({"ELECT", "RESIGN", r.name});
      else
        client->call({"LEASE", "RELEASE", r.name, *token});
    } catch (const std::exception&) {
      // the connection closing releases it too
    }
  }
  if (lost) return exit_lost;
  if (child < 0) return exit_ok;
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return exit_error;
}

const flag_spec ttl_flag{"--ttl", "MS",
                         "the lease's TTL; batond renews it every third (default 10000)"};
const flag_spec grace_flag{"--grace", "MS",
                           "after SIGTERM, SIGKILL the command this much later (default 10000)"};

hold_request from(const verb_args& a) {
  hold_request r;
  r.ttl_ms = a.number("--ttl", 10000, 10, 24LL * 3600 * 1000);
  if (a.has("--wait")) r.wait_ms = a.number("--wait", 0, 0, 3600000);
  r.grace_ms = a.number("--grace", 10000, 0, 3600000);
  r.command = a.command;
  return r;
}

} // namespace

std::vector<verb_spec> running_verbs() {
  std::vector<verb_spec> v;
  v.push_back({{"lock"},
               "NAME",
               "run COMMAND while holding lease NAME (KEEP); the token is in "
               "BATON_FENCING_TOKEN; exit 4 if the lease was lost (COMMAND stopped), else "
               "COMMAND's status",
               1,
               1,
               {ttl_flag,
                {"--wait", "MS", "wait this long for the lease (default: fail at once if held)"},
                grace_flag},
               true,
               [](const options& o, const verb_args& a) {
                 auto r = from(a);
                 r.name = a.positional[0];
                 return hold(o, r);
               }});
  v.push_back({{"lease", "acquire"},
               "NAME",
               "take lease NAME (KEEP) and hold it until interrupted (Ctrl-C, SIGTERM); exit 4 "
               "if it was lost",
               1,
               1,
               {ttl_flag, {"--wait", "MS", "wait this long for the lease (default: fail if held)"}},
               false,
               [](const options& o, const verb_args& a) {
                 auto r = from(a);
                 r.name = a.positional[0];
                 return hold(o, r);
               }});
  v.push_back(
      {{"elect"},
       "GROUP CANDIDATE",
       "campaign in GROUP as CANDIDATE and run COMMAND only while leading (term in "
       "BATON_FENCING_TOKEN); exit 4 if leadership was lost (COMMAND stopped)",
       2,
       2,
       {ttl_flag, {"--wait", "MS", "give up after this long (default: campaign on)"}, grace_flag},
       true,
       [](const options& o, const verb_args& a) {
         auto r = from(a);
         r.election = true;
         r.name = a.positional[0];
         r.candidate = a.positional[1];
         return hold(o, r);
       }});
  return v;
}

} // namespace baton::ctl
