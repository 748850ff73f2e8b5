// batonctl against a real daemon on a real redis-server: a verb for every family with human
// and --json output, usage errors (exit 2) that name the mistake, and lock-and-run: COMMAND
// gets the fencing token and its exit status comes back, a held lease is refused or waited for,
// and COMMAND is stopped (exit 4) when Redis is paused past the lease's safe validity or the
// daemon is killed; signals sent to batonctl reach COMMAND; watch prints events as they come.
#include <catch2/catch.hpp>

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>

#include "protocol/resp_client.hpp"
#include "tests/integration/secret_fixture.hpp"
#include "tests/support/reply_fields.hpp"
#include "tests/support/test_batond.hpp"
#include "tests/support/test_redis.hpp"

extern char** environ;

using namespace baton;
using namespace std::chrono_literals;
using protocol::resp_client;
using protocol::resp_value;
using steady = std::chrono::steady_clock;

namespace {

/// Runs batonctl with `args` (a shell string) and -s SOCK; its exit status, stdout in `out`.
int ctl(const std::string& socket, const std::string& args, std::string* out = nullptr) {
  // `timeout`: a batonctl that hangs fails its test instead of the suite.
  return test::run_command(
      "timeout 60 " + std::string(BATONCTL_PATH) + " -s " + socket + " " + args + " 2>&1", out);
}

/// batonctl started in the background in a process group of its own (killed whole at the
/// end), its stdout and stderr in a file.
struct spawned {
  pid_t pid = -1;
  std::string output_file;

  spawned(const test::temp_dir& dir, const std::string& name, std::vector<std::string> args)
      : output_file(dir.file(name + ".out")) {
    args.insert(args.begin(), BATONCTL_PATH);
    std::vector<char*> argv;
    for (auto& a : args)
      argv.push_back(a.data());
    argv.push_back(nullptr);
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, 1, output_file.c_str(), O_WRONLY | O_CREAT | O_TRUNC,
                                     0644);
    posix_spawn_file_actions_adddup2(&actions, 1, 2);
    posix_spawnattr_t attributes;
    posix_spawnattr_init(&attributes);
    posix_spawnattr_setflags(&attributes, POSIX_SPAWN_SETPGROUP);
    posix_spawnattr_setpgroup(&attributes, 0);
    int spawned_ok = posix_spawn(&pid, argv[0], &actions, &attributes, argv.data(), environ);
    posix_spawnattr_destroy(&attributes);
    posix_spawn_file_actions_destroy(&actions);
    REQUIRE(spawned_ok == 0);
  }
  ~spawned() {
    if (pid > 0) {
      ::kill(-pid, SIGKILL);
      waitpid(pid, nullptr, 0);
    }
  }
  /// The exit status once it exits within `timeout`, else -1.
  int wait_exit(std::chrono::milliseconds timeout) {
    auto until = steady::now() + timeout;
    int status = 0;
    while (steady::now() < until) {
      if (waitpid(pid, &status, WNOHANG) == pid) {
        pid = -1;
        return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
      }
      std::this_thread::sleep_for(10ms);
    }
    return -1;
  }
  std::string output() const {
    std::ifstream in(output_file);
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
  }
};

bool held(resp_client& c, const std::string& name) {
  auto info = c.call({"LEASE", "INFO", name}); // RESP2: a map comes as a flat array
  REQUIRE_FALSE(info.is_error());
  return info.kind != resp_value::type::null;
}

struct ctl_fleet {
  test::test_redis redis;
  test::temp_dir dir;
  std::unique_ptr<test::test_batond> daemon;
  ctl_fleet() {
    auto config =
        test::write_secret_config(dir, "baton.yaml", "",
                                  "rate:\n  policies:\n    - name: api\n      algorithm: gcra\n"
                                  "      windows: [{window_ms: 60000, limit: 2}]\n");
    daemon = test::secret_daemon(redis, "n1", config);
  }
  std::string socket() const { return daemon->socket_path(); }
};

} // namespace

TEST_CASE("batonctl: a verb for every family, human and --json, -s honoured") {
  ctl_fleet f;
  const auto s = f.socket();
  std::string out;
  CHECK(ctl(s, "status", &out) == 0);
  CHECK(out.find("node      n1") != std::string::npos);
  // -s is the socket (it was once ignored for the default one): a wrong one is unreachable.
  CHECK(ctl("/nonexistent.sock", "status", &out) == 3);
  CHECK(out.find("/nonexistent.sock") != std::string::npos);

  CHECK(ctl(s, "lease info jobs", &out) == 0);
  CHECK(out == "free\n");
  CHECK(ctl(s, "--json lease list", &out) == 0);
  CHECK(nlohmann::json::parse(out) == nlohmann::json::array());

  CHECK(ctl(s, "--json rate check api user-1", &out) == 0);
  auto check = nlohmann::json::parse(out);
  CHECK(check["allowed"] == 1);
  CHECK(ctl(s, "rate check api user-1 --cost 1", &out) == 0);
  CHECK(out.find("allowed") != std::string::npos);
  CHECK(ctl(s, "--json rate peek api user-1", &out) == 0);
  CHECK(nlohmann::json::parse(out)["allowed"] == 0); // the limit of 2 is used up
  CHECK(ctl(s, "rate reset api user-1", &out) == 0);
  CHECK(out == "1\n");
  CHECK(ctl(s, "--json rate peek api user-1", &out) == 0);
  CHECK(nlohmann::json::parse(out)["allowed"] == 1);
  CHECK(ctl(s, "rate check nosuchpolicy k", &out) == 1); // batond's error, printed
  CHECK(out.find("nosuchpolicy") != std::string::npos);

  CHECK(ctl(s, "dedup get order-1", &out) == 0);
  CHECK(out == "absent\n");

  // Events: a publish prints its id; --dedup with a key seen before prints the first id again.
  std::string first, again, other;
  CHECK(ctl(s, "events publish orders o-1 --dedup order-1", &first) == 0);
  CHECK(ctl(s, "events publish orders o-1 --dedup order-1", &again) == 0);
  CHECK(ctl(s, "events publish orders o-2", &other) == 0);
  CHECK(first.find('-') != std::string::npos);
  CHECK(again == first);
  CHECK(ctl(s, "--json events read orders", &out) == 0);
  auto events = nlohmann::json::parse(out);
  REQUIRE(events.size() == 2);
  CHECK(events[0][1] == "o-1");
  CHECK(events[1][1] == "o-2");

  // Secrets: a value from a file (not on the command line, where ps shows it).
  std::ofstream(f.dir.file("value")) << "s3cret-one\n";
  CHECK(ctl(s, "--json secret put db --file " + f.dir.file("value"), &out) == 0);
  CHECK(nlohmann::json::parse(out)["version"] == 1);
  CHECK(ctl(s, "--json secret get db", &out) == 0);
  CHECK(nlohmann::json::parse(out)["value"] == "s3cret-one");
  CHECK(ctl(s, "--json secret verify db s3cret-one", &out) == 0);
  CHECK(nlohmann::json::parse(out)["match"] == 1);
  CHECK(ctl(s, "secret info db", &out) == 0);
  CHECK(out.find("secret db: current v1") != std::string::npos);
  CHECK(out.find("s3cret") == std::string::npos); // never values
  CHECK(ctl(s, "secret get nosuch", &out) == 0);
  CHECK(out == "no such secret\n");

  CHECK(ctl(s, "--json session list bob", &out) == 0);
  CHECK(nlohmann::json::parse(out) == nlohmann::json::array());
  CHECK(ctl(s, "session close 0123456789abcdef0123456789abcdef", &out) == 0);
  CHECK(out == "0\n");

  CHECK(test::eventually(
      [&] { return ctl(s, "node list", &out) == 0 && out.find("(this one)") != std::string::npos; },
      5000));
  CHECK(ctl(s, "--json node info", &out) == 0);
  CHECK(nlohmann::json::parse(out)["id"] == "n1");
  CHECK(ctl(s, "--json breaker list", &out) == 0);
  CHECK(nlohmann::json::parse(out).contains("baton:redis"));
  CHECK(ctl(s, "elect leader g", &out) == 0);
  CHECK(out == "nobody leads\n");
}

TEST_CASE("batonctl: usage errors exit 2 and name the mistake, -h per verb") {
  ctl_fleet f;
  const auto s = f.socket();
  std::string out;
  struct mistake {
    const char* args;
    const char* named;
  };
  for (auto m :
       {mistake{"fly", "unknown command 'fly'"}, mistake{"lease frob", "unknown verb 'lease frob'"},
        mistake{"lease info", "missing argument: NAME"},
        mistake{"lease info a b", "unexpected argument 'b'"},
        mistake{"status --bogus", "unknown flag '--bogus'"},
        mistake{"rate check api k --cost x", "--cost wants a whole number"},
        mistake{"rate check api k --cost", "--cost needs a value"},
        mistake{"lock job", "no command to run"},
        mistake{"lease info x -- true", "'--' but this verb runs no command"},
        mistake{"--timeout 0 status", "--timeout must be a positive number"},
        mistake{"secret put db", "missing the value"}}) {
    INFO(m.args);
    CHECK(ctl(s, m.args, &out) == 2);
    CHECK(out.find(m.named) != std::string::npos);
  }
  CHECK(ctl(s, "", &out) == 2);
  CHECK(ctl(s, "lock -h", &out) == 0);
  CHECK(out.find("usage: batonctl lock NAME [--ttl MS] [--wait MS] [--grace MS] -- COMMAND") !=
        std::string::npos);
  CHECK(ctl(s, "lease --help", &out) == 0);
  CHECK(out.find("lease acquire NAME") != std::string::npos);
  CHECK(out.find("rate check") == std::string::npos); // only the family's verbs
}

TEST_CASE("batonctl lock: COMMAND runs with the fencing token, its status comes back, and the "
          "lease is released") {
  ctl_fleet f;
  const auto s = f.socket();
  resp_client probe(s);
  std::string out;
  CHECK(ctl(s, "lock job -- sh -c 'echo token=$BATON_FENCING_TOKEN name=$BATON_LEASE_NAME; exit 7'",
            &out) == 7);
  auto at = out.find("token=");
  REQUIRE(at != std::string::npos);
  CHECK(std::stoll(out.substr(at + 6)) > 0);
  CHECK(out.find("name=job") != std::string::npos);
  CHECK_FALSE(held(probe, "job"));

  // Held by another client: refused at once, or taken once it is released within --wait.
  auto holder = probe.call({"LEASE", "ACQUIRE", "job", "10000"});
  auto token = test::field(holder, "token");
  CHECK(ctl(s, "lock job -- true", &out) == 1);
  CHECK(out.find("DENIED") != std::string::npos);
  // With --wait it waits (still running 300 ms later), and runs once the holder releases.
  {
    spawned waiting(f.dir, "waiting",
                    {"-s", s, "lock", "job", "--wait", "20000", "--", "sh", "-c",
                     "test -n \"$BATON_FENCING_TOKEN\""});
    CHECK(waiting.wait_exit(300ms) == -1);
    CHECK(probe.call({"LEASE", "RELEASE", "job", std::to_string(token)}).str == "OK");
    CHECK(waiting.wait_exit(10000ms) == 0);
  }
  // A signal ends the wait (the waiter leaves batond's queue with its connection).
  token = test::field(probe.call({"LEASE", "ACQUIRE", "job", "10000"}), "token");
  {
    spawned waiting(f.dir, "interrupted",
                    {"-s", s, "lock", "job", "--wait", "60000", "--", "true"});
    CHECK(waiting.wait_exit(300ms) == -1);
    ::kill(waiting.pid, SIGTERM);
    CHECK(waiting.wait_exit(5000ms) == 128 + SIGTERM);
  }
  CHECK(probe.call({"LEASE", "RELEASE", "job", std::to_string(token)}).str == "OK");
  // A command that cannot run: 127, as a shell says.
  CHECK(ctl(s, "lock job -- /nonexistent/command", &out) == 127);
  CHECK(out.find("cannot run /nonexistent/command") != std::string::npos);
}

TEST_CASE("batonctl lock: COMMAND is stopped and batonctl exits 4 when Redis is paused past "
          "the lease's validity") {
  ctl_fleet f;
  resp_client probe(f.socket());
  // COMMAND ignores SIGTERM: the grace runs out and SIGKILL ends it.
  spawned lock(f.dir, "lock",
               {"-s", f.socket(), "lock", "job", "--ttl", "1000", "--grace", "300", "--", "sh",
                "-c", "trap '' TERM; sleep 60"});
  REQUIRE(test::eventually([&] { return held(probe, "job"); }, 5000));
  auto paused_at = steady::now();
  f.redis.pause();
  int status = lock.wait_exit(8000ms);
  auto took = steady::now() - paused_at;
  f.redis.resume();
  CHECK(status == 4);
  // Lost a notice before the safe validity (under 1 s), then 300 ms of grace.
  CHECK(took < 4000ms);
  CHECK(lock.output().find("lease 'job' was lost: stopping the command") != std::string::npos);
}

TEST_CASE("batonctl lock: a killed daemon stops COMMAND (its renewals end with it)") {
  ctl_fleet f;
  resp_client probe(f.socket());
  spawned lock(f.dir, "lock", {"-s", f.socket(), "lock", "job", "--", "sleep", "60"});
  REQUIRE(test::eventually([&] { return held(probe, "job"); }, 5000));
  f.daemon->kill();
  CHECK(lock.wait_exit(5000ms) == 4);
  CHECK(lock.output().find("batond's connection broke") != std::string::npos);
}

TEST_CASE("batonctl lock: a daemon that stops answering stops COMMAND within half the TTL") {
  ctl_fleet f;
  resp_client probe(f.socket());
  spawned lock(f.dir, "lock",
               {"-s", f.socket(), "lock", "job", "--ttl", "1200", "--", "sleep", "60"});
  REQUIRE(test::eventually([&] { return held(probe, "job"); }, 5000));
  f.daemon->signal(SIGSTOP); // renewals stop, and no `lost` can come
  auto stopped_at = steady::now();
  int status = lock.wait_exit(8000ms);
  auto took = steady::now() - stopped_at;
  f.daemon->signal(SIGCONT);
  CHECK(status == 4);
  CHECK(took < 3000ms); // silent for half the TTL (600 ms), then a tenth of it as grace
  CHECK(lock.output().find("batond stopped answering") != std::string::npos);
}

TEST_CASE("batonctl lock: a signal sent to batonctl reaches COMMAND, whose status comes back") {
  ctl_fleet f;
  resp_client probe(f.socket());
  auto ready = f.dir.file("ready");
  spawned lock(f.dir, "lock",
               {"-s", f.socket(), "lock", "job", "--", "sh", "-c",
                "trap 'exit 42' USR1; touch " + ready + "; while :; do sleep 0.05; done"});
  REQUIRE(test::eventually([&] { return access(ready.c_str(), F_OK) == 0; }, 5000));
  ::kill(lock.pid, SIGUSR1);
  CHECK(lock.wait_exit(5000ms) == 42);
  CHECK_FALSE(held(probe, "job")); // released on the way out
}

TEST_CASE("batonctl elect runs COMMAND while leading, watch prints events as they come") {
  ctl_fleet f;
  const auto s = f.socket();
  spawned watch(f.dir, "watch", {"-s", s, "watch", "leases", "job"});
  spawned json_watch(f.dir, "json-watch", {"-s", s, "--json", "watch", "elect", "g"});
  std::string out;
  CHECK(
      test::eventually([&] { return watch.output().find("watching") != std::string::npos; }, 5000));
  // ELECT WATCH pushes the group as it is at once: nobody leads yet.
  CHECK(test::eventually(
      [&] { return json_watch.output().find("\"vacant\"") != std::string::npos; }, 5000));
  CHECK(ctl(s, "elect g worker-1 -- sh -c 'echo term=$BATON_FENCING_TOKEN'", &out) == 0);
  auto at = out.find("term=");
  REQUIRE(at != std::string::npos);
  auto term = std::stoll(out.substr(at + 5));
  CHECK(term > 0);
  CHECK(ctl(s, "lock job -- true", &out) == 0);
  CHECK(test::eventually(
      [&] {
        auto text = watch.output();
        return text.find("lease acquired job") != std::string::npos &&
               text.find("lease released job") != std::string::npos;
      },
      5000));
  CHECK(test::eventually(
      [&] {
        return json_watch.output().find("[\"elect\",\"leader\",\"g\"," + std::to_string(term) +
                                        ",\"worker-1\"") != std::string::npos;
      },
      5000));
}
