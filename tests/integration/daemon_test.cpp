// batond as a process: --check-config, flags, the socket file's life, SIGTERM and SIGHUP,
// the HTTP endpoint (promtool checks /metrics), Redis down as seen by clients, batonctl.
#include <catch2/catch.hpp>

#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>

#include <nlohmann/json.hpp>

#include "protocol/resp_client.hpp"
#include "tests/support/test_batond.hpp"

using namespace baton;
using protocol::resp_client;

namespace {
int batonctl(const std::string& socket, const std::string& args, std::string* out) {
  return test::run_command(std::string(BATONCTL_PATH) + " --socket " + socket + " " + args, out);
}
} // namespace

TEST_CASE("batond --check-config prints every problem as file:line:column and fails") {
  test::temp_dir dir;
  std::ofstream(dir.file("bad.yaml")) << "redis:\n  url: ftp://x\nsockett: {}\n";
  std::string out;
  CHECK(test::test_batond::run_to_exit({"--check-config", dir.file("bad.yaml")}, &out) == 1);
  CHECK(out.find(dir.file("bad.yaml") + ":2:8: url: Redis URL must start with") !=
        std::string::npos);
  CHECK(out.find(dir.file("bad.yaml") + ":3:1: unknown key 'sockett'") != std::string::npos);
  CHECK(test::test_batond::run_to_exit({"--check-config", dir.file("missing.yaml")}, &out) == 1);
  CHECK(out.find("cannot open config file") != std::string::npos);
  CHECK(test::test_batond::run_to_exit(
            {"--check-config", std::string(BATON_SOURCE_DIR) + "/deploy/baton.example.yaml"},
            &out) == 0);
}

TEST_CASE("flags: --help lists every flag, bad flags exit 2") {
  std::string out;
  CHECK(test::test_batond::run_to_exit({"--help"}, &out) == 0);
  for (auto flag : {"--config", "--check-config", "--socket", "--http", "--redis", "--node-id",
                    "--prefix", "--log-level", "--version"})
    CHECK(out.find(flag) != std::string::npos);
  CHECK(test::test_batond::run_to_exit({"--bogus"}, &out) == 2);
  CHECK(test::test_batond::run_to_exit({"--socket"}, &out) == 2);
  CHECK(test::test_batond::run_to_exit({"--redis", "nope://x", "--socket", "/tmp/x.sock"}, &out) ==
        1);
  CHECK(out.find("Redis URL must start with") != std::string::npos);
}

TEST_CASE("a live socket is refused, a stale one replaced, and SIGTERM removes it") {
  test::test_redis redis;
  test::test_batond first(redis.unix_url());
  std::string out;
  CHECK(test::test_batond::run_to_exit(
            {"--socket", first.socket_path(), "--redis", redis.unix_url(), "--http", "off"},
            &out) == 1);
  CHECK(out.find("is in use by a running batond") != std::string::npos);
  resp_client still(first.socket_path());
  CHECK(still.call({"PING"}).str == "PONG");

  auto path = first.socket_path();
  first.kill(); // a crash leaves the socket file behind
  struct stat info {};
  REQUIRE(::stat(path.c_str(), &info) == 0);
  test::test_batond second(redis.unix_url(), {"--socket", path});
  CHECK(resp_client(path).call({"PING"}).str == "PONG");
  CHECK(second.log().find("replacing stale socket") != std::string::npos);
  CHECK(second.stop() == 0);
  CHECK(::stat(path.c_str(), &info) != 0);
}

TEST_CASE("the HTTP endpoint: promtool accepts /metrics: /readyz follows Redis") {
  test::test_redis redis;
  test::test_batond daemon(redis.unix_url(), {"--node-id", "node-a"});
  {
    resp_client c(daemon.socket_path());
    c.call({"PING"});
    c.call({"DEBUG", "RTT"});
    c.call({"NOPE"});
  }
  std::string body;
  REQUIRE(test::http_get(daemon.http_port(), "/metrics", &body) == 200);
  CHECK(body.find("baton_requests_total{family=\"ping\",result=\"ok\"}") != std::string::npos);
  CHECK(body.find("baton_requests_total{family=\"unknown\",result=\"error\"} 1") !=
        std::string::npos);
  CHECK(body.find("baton_build_info{version=") != std::string::npos);
  CHECK(body.find("node=\"node-a\"") != std::string::npos);
  CHECK(body.find("baton_request_duration_seconds_bucket{family=\"debug\",le=\"+Inf\"} 1") !=
        std::string::npos);
  test::temp_dir dir;
  std::ofstream(dir.file("metrics.txt")) << body;
  std::string promtool;
  CHECK(test::run_command("promtool check metrics < " + dir.file("metrics.txt"), &promtool) == 0);
  INFO(promtool);
  CHECK(test::http_get(daemon.http_port(), "/healthz") == 200);
  CHECK(test::http_get(daemon.http_port(), "/readyz") == 200);
  CHECK(test::http_get(daemon.http_port(), "/nothing") == 404);

  redis.kill();
  CHECK(test::eventually(
      [&] { return test::http_get(daemon.http_port(), "/readyz", &body) == 503; }));
  CHECK(body.find("redis unreachable") != std::string::npos);
  resp_client c(daemon.socket_path());
  auto t = std::chrono::steady_clock::now();
  auto reply = c.call({"DEBUG", "RTT"});
  CHECK(reply.str.rfind("UNAVAILABLE", 0) == 0);
  CHECK(std::chrono::steady_clock::now() - t < std::chrono::milliseconds(250 + 150));
  CHECK(c.call({"PING"}).str == "PONG"); // local commands never wait for Redis
  std::string ctl;
  CHECK(batonctl(daemon.socket_path(), "status", &ctl) == 1);
  CHECK(ctl.find("UNREACHABLE") != std::string::npos);
  REQUIRE(test::http_get(daemon.http_port(), "/metrics", &body) == 200);
  CHECK(body.find("baton_requests_total{family=\"debug\",result=\"unavailable\"} 1") !=
        std::string::npos);

  redis.start();
  CHECK(test::eventually([&] { return test::http_get(daemon.http_port(), "/readyz") == 200; }));
  CHECK(c.call({"DEBUG", "RTT"}).kind == protocol::resp_value::type::array);
}

TEST_CASE("batonctl: human and JSON output, exit codes") {
  test::test_redis redis;
  test::test_batond daemon(redis.unix_url(), {"--node-id", "ctl-node"});
  std::string out;
  CHECK(batonctl(daemon.socket_path(), "ping", &out) == 0);
  CHECK(out == "PONG\n");
  CHECK(batonctl(daemon.socket_path(), "status", &out) == 0);
  CHECK(out.find("ctl-node") != std::string::npos);
  CHECK(batonctl(daemon.socket_path(), "--json status", &out) == 0);
  auto json = nlohmann::json::parse(out);
  CHECK(json["ready"] == true);
  CHECK(json["node_id"] == "ctl-node");
  CHECK(json["redis"]["reachable"] == true);
  CHECK(batonctl(daemon.socket_path(), "--json info server", &out) == 0);
  CHECK(nlohmann::json::parse(out)["node_id"] == "ctl-node");
  CHECK(batonctl(daemon.socket_path(), "fly", &out) == 2);
  CHECK(batonctl(daemon.socket_path(), "", &out) == 2);
  CHECK(batonctl("/nonexistent.sock", "status", &out) == 3);
  CHECK(batonctl("/nonexistent.sock", "--json ping", &out) == 3);
  CHECK(nlohmann::json::parse(out)["ok"] == false);
}

TEST_CASE("SIGHUP reloads what it can and names what needs a restart") {
  test::test_redis redis;
  test::temp_dir dir;
  std::ofstream(dir.file("b.yaml")) << "log: {level: info}\nredis: {call_timeout_ms: 200}\n";
  test::test_batond daemon(redis.unix_url(), {"--config", dir.file("b.yaml")});
  std::ofstream(dir.file("b.yaml"), std::ios::trunc)
      << "log: {level: debug}\nredis: {call_timeout_ms: 150, connections: 4}\n";
  daemon.signal(SIGHUP);
  CHECK(
      test::eventually([&] { return daemon.log().find("SIGHUP: reloaded") != std::string::npos; }));
  CHECK(daemon.log().find(
            "needs a restart to take effect\" key=\"redis endpoint and credentials\"") !=
        std::string::npos);
  std::ofstream(dir.file("b.yaml"), std::ios::trunc) << "log: {level: loud}\n";
  daemon.signal(SIGHUP);
  CHECK(test::eventually(
      [&] { return daemon.log().find("keeping the running config") != std::string::npos; }));
  CHECK(resp_client(daemon.socket_path()).call({"PING"}).str == "PONG");
  CHECK(daemon.stop() == 0);
}

namespace {
// Runs `command` on the socket as uid/gid 65534 (nobody) in a child process; returns the
// reply's text, or "exec failed".
std::string call_as_nobody(const std::string& socket, const std::vector<std::string>& command) {
  int fds[2];
  REQUIRE(::pipe(fds) == 0);
  pid_t pid = ::fork();
  if (pid == 0) {
    ::close(fds[0]);
    std::string text = "exec failed";
    if (::setgid(65534) == 0 && ::setuid(65534) == 0) {
      try {
        resp_client c(socket);
        text = c.call(command).str;
      } catch (const std::exception& e) {
        text = e.what();
      }
    }
    (void)!::write(fds[1], text.data(), text.size());
    ::_exit(0);
  }
  ::close(fds[1]);
  std::string text;
  char buffer[256];
  for (ssize_t n; (n = ::read(fds[0], buffer, sizeof(buffer))) > 0;)
    text.append(buffer, static_cast<std::size_t>(n));
  ::close(fds[0]);
  ::waitpid(pid, nullptr, 0);
  return text;
}
} // namespace

TEST_CASE("access rules by uid: NOPERM for families a caller may not use") {
  if (getuid() != 0) {
    WARN("needs root to act as another uid; skipped");
    return;
  }
  test::test_redis redis;
  test::temp_dir dir;
  ::chmod(dir.path().c_str(), 0755);
  std::ofstream(dir.file("deny.yaml")) << "socket: {mode: \"0666\"}\naccess: {default: deny}\n";
  std::ofstream(dir.file("allow.yaml")) << "socket: {mode: \"0666\"}\naccess: {default: deny, "
                                           "rules: [{uids: [65534], allow: [debug, rate, node]}]}\n";
  {
    test::test_batond daemon(redis.unix_url(), {"--config", dir.file("deny.yaml")});
    ::chmod(std::string(daemon.socket_path()).substr(0, daemon.socket_path().rfind('/')).c_str(),
            0755);
    CHECK(call_as_nobody(daemon.socket_path(), {"DEBUG", "RTT"}).rfind("NOPERM uid=65534", 0) == 0);
    CHECK(call_as_nobody(daemon.socket_path(), {"PING"}) == "PONG");
    CHECK(resp_client(daemon.socket_path()).call({"DEBUG", "RTT"}).elements.size() == 4); // root
  }
  {
    test::test_batond daemon(redis.unix_url(), {"--config", dir.file("allow.yaml")});
    ::chmod(std::string(daemon.socket_path()).substr(0, daemon.socket_path().rfind('/')).c_str(),
            0755);
    CHECK(call_as_nobody(daemon.socket_path(), {"DEBUG", "RTT"}).empty()); // a map: no text
    // The admin verbs of an allowed family still need an admin group: the router checks the
    // table's admin column before any handler (or its argument checks) runs.
    auto reset = call_as_nobody(daemon.socket_path(), {"RATE", "RESET", "no-such-policy", "k"});
    CHECK(reset.rfind("NOPERM uid=65534", 0) == 0);
    CHECK(reset.find("may not run 'rate reset': it needs an admin group") != std::string::npos);
    CHECK(call_as_nobody(daemon.socket_path(), {"NODE", "DRAIN"}).rfind("NOPERM uid=65534", 0) ==
          0);
    CHECK(call_as_nobody(daemon.socket_path(), {"NODE", "LIST"}).rfind("NOPERM", 0) != 0);
    CHECK(resp_client(daemon.socket_path()).call({"PING"}).str == "PONG"); // still serving
  }
}

TEST_CASE("batond starts without Redis, serves what it can, and connects when Redis comes") {
  test::test_redis redis;
  redis.kill(); // the socket path stays reserved for the restart below
  test::test_batond daemon(redis.unix_url());
  resp_client c(daemon.socket_path());
  CHECK(c.call({"PING"}).str == "PONG");
  auto t = std::chrono::steady_clock::now();
  CHECK(c.call({"DEBUG", "RTT"}).str.rfind("UNAVAILABLE", 0) == 0);
  CHECK(std::chrono::steady_clock::now() - t < std::chrono::milliseconds(250 + 150));
  CHECK(test::http_get(daemon.http_port(), "/readyz") == 503);
  CHECK(test::http_get(daemon.http_port(), "/healthz") == 200);
  redis.start();
  CHECK(test::eventually([&] { return test::http_get(daemon.http_port(), "/readyz") == 200; }));
  CHECK(c.call({"DEBUG", "RTT"}).kind == protocol::resp_value::type::array); // RESP2: flat map
}

TEST_CASE("garbage and unsupported methods on the HTTP port do not hurt batond") {
  test::test_redis redis;
  test::test_batond daemon(redis.unix_url());
  auto port = std::to_string(daemon.http_port());
  std::string out;
  test::run_command("curl -s --max-time 2 -X POST --data x http://127.0.0.1:" + port +
                        "/metrics -o /dev/null -w '%{http_code}'",
                    &out);
  CHECK(out == "405");
  // A body over the limit (4 KiB; operators' GETs carry none) closes the connection.
  test::run_command("head -c 20000 /dev/urandom | curl -s --max-time 2 -X POST --data-binary @- "
                    "http://127.0.0.1:" +
                        port + "/metrics -o /dev/null -w '%{http_code}'",
                    &out);
  CHECK(out == "000");
  test::run_command("head -c 5000 /dev/urandom | timeout 2 bash -c 'cat > /dev/tcp/127.0.0.1/" +
                        port + "'",
                    &out);
  CHECK(test::http_get(daemon.http_port(), "/healthz") == 200);
  CHECK(resp_client(daemon.socket_path()).call({"PING"}).str == "PONG");
}

// The chaos harness's deliberate bugs (common/chaos_bugs.cpp) are named in the environment:
// a name batond does not know is a clear start-up error, never a bug silently not applied.
TEST_CASE("BATON_CHAOS_BUGS: an unknown bug name stops batond with the list of known ones") {
  test::test_redis redis;
  test::temp_dir dir;
  std::string out;
  ::setenv("BATON_CHAOS_BUGS", "no-such-bug", 1);
  auto code = test::test_batond::run_to_exit(
      {"--redis", redis.unix_url(), "--socket", dir.file("b.sock"), "--http", "off"}, &out);
  ::unsetenv("BATON_CHAOS_BUGS");
  CHECK(code == 1);
  CHECK(out.find("unknown chaos bug 'no-such-bug'") != std::string::npos);
  CHECK(out.find("lease-renew-skips-token") != std::string::npos);
}
