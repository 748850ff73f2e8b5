// Holding a lease (or a group's leadership) while a command runs, like flock, `consul lock`
// and `etcdctl lock`; see verbs.hpp.
//
// The lease is taken with KEEP on this process's connection: batond renews it while the
// connection is open and pushes `lost` when it cannot (Redis paused or unreachable past the
// safe validity, or an admin's FORCE release). COMMAND gets the fencing token in
// BATON_FENCING_TOKEN, so what it writes to can refuse a writer with an older token. COMMAND
// is stopped (SIGTERM to its process group, SIGKILL after the grace, which by default ends
// when the lease's safe validity does) and batonctl exits 4 when:
// - batond pushes `lost`;
// - batond's connection breaks (its renewals end with it);
// - batond stops answering: a PING goes out every sixth of the TTL, and a daemon silent for
//   half the TTL may have stopped renewing (renewals come every third, so the lease is safe
//   until two thirds of the TTL after the last word).
// Otherwise batonctl exits with COMMAND's status (128+N for a signal N) and gives the lease
// back.
//
// COMMAND runs in a process group of its own, so that stopping it stops what it started too,
// and with a parent-death signal, so that it does not outlive a killed batonctl. Signals sent
// to batonctl (INT, TERM, HUP, QUIT, USR1, USR2) are passed to COMMAND's group; a terminal's
// Ctrl-C reaches batonctl, which passes it on. Being a group of its own, COMMAND is not the
// terminal's foreground job: lock-and-run is for jobs, not for interactive programs. Signals
// batonctl was started ignoring (nohup) stay ignored. While waiting for the lease (--wait, or
// a campaign), a signal ends the wait. Everything waits in one poll() over a signalfd and the
// connection.
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <iostream>
#include <optional>
#include <thread>

#include "daemon/ctl/verbs.hpp"

namespace baton::ctl {
namespace {

using steady = std::chrono::steady_clock;
using std::chrono::milliseconds;

struct hold_request {
  bool election = false;
  std::string name;      ///< the lease, or the group
  std::string candidate; ///< an election's
  std::int64_t ttl_ms = 10000;
  std::optional<std::int64_t> wait_ms;
  std::optional<std::int64_t> grace_ms; ///< default: the KEEP notice (ttl/10, at most 1 s)
  std::vector<std::string> command;     ///< empty: hold until interrupted
};

/// Blocks the signals handled here, reads them from a signalfd, and restores the mask.
class signal_inbox {
public:
  signal_inbox() {
    sigemptyset(&handled_);
    for (int s : {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2, SIGCHLD}) {
      // An ignored signal is discarded even while blocked. SIGCHLD must arrive (a parent that
      // ignores it passes that on across exec); the others stay ignored if they were (nohup).
      if (s == SIGCHLD) signal(s, SIG_DFL);
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

/// True if `push` says this holder lost what it holds.
bool is_lost(const resp_value& push, const hold_request& r) {
  if (push.kind != resp_value::type::push || push.elements.size() < 3) return false;
  return push.elements[0].str == (r.election ? "elect" : "lease") &&
         push.elements[1].str == "lost" && push.elements[2].str == r.name;
}

/// Waits until the connection has something to read (true) or a signal ends the wait (its
/// number in `signo`, false).
bool wait_readable(resp_client& client, const signal_inbox& signals, int& signo) {
  while (!client.buffered()) {
    pollfd fds[2] = {{signals.fd(), POLLIN, 0}, {client.fd(), POLLIN, 0}};
    if (poll(fds, 2, -1) < 0) {
      if (errno == EINTR) continue;
      throw unreachable(std::string("poll: ") + std::strerror(errno));
    }
    while (auto s = signals.next())
      if (s->ssi_signo != SIGCHLD) {
        signo = static_cast<int>(s->ssi_signo);
        return false;
      }
    if (fds[1].revents != 0) break;
  }
  return true;
}

/// The next reply (pushes skipped), or nullopt when a signal ended the wait.
std::optional<resp_value> next_reply(resp_client& client, const signal_inbox& signals, int& signo) {
  for (;;) {
    if (!wait_readable(client, signals, signo)) return std::nullopt;
    resp_value v;
    try {
      v = client.read();
    } catch (const std::exception& e) {
      throw unreachable(e.what());
    }
    if (v.kind != resp_value::type::push) return v;
  }
}

struct taken {
  std::string token;   ///< empty: not taken (why was printed)
  int interrupted = 0; ///< a signal ended the wait
  bool lost = false;   ///< a `lost` push came right after the grant
};

/// Takes the lease or leadership, waiting as asked; a signal ends the wait.
taken take(resp_client& client, const hold_request& r, const options& o,
           const signal_inbox& signals) {
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
    try {
      client.send(args);
    } catch (const std::exception& e) {
      throw unreachable(e.what());
    }
    taken out;
    auto reply = next_reply(client, signals, out.interrupted);
    if (!reply) return out;
    if (reply->is_error() && r.election && !r.wait_ms &&
        (reply->str.rfind("DENIED", 0) == 0 || reply->str.rfind("UNAVAILABLE", 0) == 0)) {
      // Campaigning on: an hour went by without leading, or Redis is away for a moment.
      if (reply->str.rfind("UNAVAILABLE", 0) == 0) std::this_thread::sleep_for(milliseconds(500));
      continue;
    }
    if (reply->is_error()) {
      if (o.as_json)
        std::cout << json{{"ok", false}, {"error", reply->str}}.dump() << "\n";
      else
        std::cerr << "batonctl: " << reply->str << "\n";
      return out;
    }
    out.token = text(to_json(*reply)[r.election ? "term" : "token"]);
    // A `lost` already on its way: COMMAND must not start.
    for (;;) {
      pollfd fd{client.fd(), POLLIN, 0};
      if (!client.buffered() && poll(&fd, 1, 0) <= 0) break;
      try {
        if (is_lost(client.read(), r)) out.lost = true;
      } catch (const std::exception&) {
        out.lost = true;
        break;
      }
    }
    return out;
  }
}

pid_t start_command(const hold_request& r, const std::string& token, const sigset_t& mask) {
  pid_t parent = getpid();
  pid_t child = fork();
  if (child != 0) return child;
  setpgid(0, 0);
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (getppid() != parent) _exit(126); // batonctl died before the line above
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
  auto client = connect(o);
  auto got = take(*client, r, o, signals);
  if (got.interrupted != 0) return 128 + got.interrupted; // closing the connection gives up
  if (got.token.empty()) return exit_error;
  const auto& token = got.token;
  const char* what = r.election ? "leadership of" : "lease";
  if (got.lost) {
    std::cerr << "batonctl: " << what << " '" << r.name << "' was lost at once\n";
    return exit_lost;
  }
  if (r.command.empty()) { // hold until interrupted
    if (o.as_json)
      std::cout
          << json{{"ok", true}, {"name", r.name}, {r.election ? "term" : "token", token}}.dump()
          << std::endl;
    else
      std::cout << "holding " << what << " '" << r.name << "' under "
                << (r.election ? "term " : "token ") << token << " until interrupted" << std::endl;
  }
  pid_t child = r.command.empty() ? -1 : start_command(r, token, signals.previous());
  if (child < 0 && !r.command.empty()) {
    std::cerr << "batonctl: fork: " << std::strerror(errno) << "\n";
    return exit_error;
  }
  if (child > 0) setpgid(child, child); // also here: no signal may reach a group not made yet

  const milliseconds ttl(r.ttl_ms);
  const milliseconds grace(r.grace_ms.value_or(std::min<std::int64_t>(r.ttl_ms / 10, 1000)));
  const milliseconds ping_every = std::max(ttl / 6, milliseconds(10));
  const milliseconds silent_limit = ttl / 2;
  auto last_heard = steady::now();
  auto next_ping = last_heard + ping_every;
  bool lost = false;
  bool done = false;
  bool failed = false;
  int status = 0;
  std::optional<steady::time_point> kill_at;
  auto stop_command = [&](const std::string& why) {
    lost = true;
    std::cerr << "batonctl: " << what << " '" << r.name << "' " << why
              << (child > 0 ? ": stopping the command" : "") << "\n";
    if (child > 0) {
      kill(-child, SIGTERM);
      kill_at = steady::now() + grace;
    } else {
      done = true;
    }
  };
  auto read_one = [&] {
    try {
      auto v = client->read();
      last_heard = steady::now();
      if (is_lost(v, r)) stop_command("was lost");
    } catch (const std::exception& e) {
      stop_command(std::string("cannot be kept: batond's connection broke (") + e.what() + ")");
    }
  };
  while (!done) {
    if (!lost && client->buffered()) {
      read_one();
      continue;
    }
    auto now = steady::now();
    if (!lost && now - last_heard > silent_limit) {
      stop_command("cannot be kept: batond stopped answering");
      continue;
    }
    if (!lost && now >= next_ping) {
      try {
        client->send({"PING"});
      } catch (const std::exception& e) {
        stop_command(std::string("cannot be kept: batond's connection broke (") + e.what() + ")");
        continue;
      }
      next_ping = now + ping_every;
    }
    // Wake for the next ping, the kill, and now and then to look for COMMAND's end: a SIGCHLD
    // merged with another must not leave us waiting.
    auto wake = now + milliseconds(250);
    if (!lost) wake = std::min(wake, next_ping);
    if (kill_at) wake = std::min(wake, *kill_at);
    auto wait_ms = static_cast<int>(
        std::max<std::int64_t>(0, std::chrono::ceil<milliseconds>(wake - now).count()));
    pollfd fds[2] = {{signals.fd(), POLLIN, 0}, {client->fd(), POLLIN, 0}};
    if (poll(fds, lost ? 1 : 2, wait_ms) < 0 && errno != EINTR) {
      std::cerr << "batonctl: poll: " << std::strerror(errno) << "\n";
      if (child > 0 && !lost) kill(-child, SIGTERM), kill_at = steady::now() + grace;
      failed = lost = true;
      if (child < 0) break;
    }
    if (kill_at && steady::now() >= *kill_at) {
      kill(-child, SIGKILL);
      kill_at.reset();
    }
    if (child > 0 && waitpid(child, &status, WNOHANG) == child) done = true;
    while (auto s = signals.next()) {
      if (s->ssi_signo == SIGCHLD) continue; // reaped above or on the next turn
      if (child > 0 && !done)
        kill(-child, static_cast<int>(s->ssi_signo));
      else if (child < 0)
        done = true; // holding without a command: a signal ends it
    }
    if (!lost && (fds[1].revents & (POLLIN | POLLHUP | POLLERR))) read_one();
  }
  if (child > 0 && lost) kill(-child, SIGKILL); // what COMMAND left in its group
  if (!lost) {
    try { // give it back at once rather than at the end of its TTL
      if (r.election)
        client->call({"ELECT", "RESIGN", r.name});
      else
        client->call({"LEASE", "RELEASE", r.name, token});
    } catch (const std::exception&) {
      // the connection closing releases it too
    }
  }
  if (failed) return exit_error;
  if (lost) return exit_lost;
  if (child < 0) return exit_ok;
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return exit_error;
}

const flag_spec ttl_flag{"--ttl", "MS",
                         "the lease's TTL; batond renews it every third (default 10000)"};
const flag_spec grace_flag{"--grace", "MS",
                           "after SIGTERM, SIGKILL the command this much later (default: when "
                           "the lease's safe validity ends, a tenth of the TTL, at most 1000)"};

hold_request from(const verb_args& a) {
  hold_request r;
  r.ttl_ms = a.number("--ttl", 10000, 10, 24LL * 3600 * 1000);
  if (a.has("--wait")) r.wait_ms = a.number("--wait", 0, 0, 3600000);
  if (a.has("--grace")) r.grace_ms = a.number("--grace", 0, 0, 3600000);
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
