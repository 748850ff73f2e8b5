// Access rules per secret name with two real uids (users this test creates), the audit trail
// they leave (stream and log, refusals included, never values), and the promise that a
// secret's plaintext appears in no log line, metric, error reply or Redis key.
#include <catch2/catch.hpp>

#include <grp.h>
#include <pwd.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <thread>

#include "tests/integration/secret_fixture.hpp"
#include "tests/support/test_users.hpp"

using namespace baton;
using protocol::resp_client;
using protocol::resp_value;
using test::field;
using test::text_field;
using test::value_of;
using namespace std::chrono_literals;

namespace {

using test::ensure_user;
using test::test_user;

struct call_result {
  std::string reply;
  pid_t pid = 0;
};

// Runs one command as another user: a child process drops to that uid and gid, connects and
// sends it, and reports the reply through a pipe.
call_result call_as(const test_user& user, const std::string& socket,
                    const std::vector<std::string>& args) {
  int fds[2];
  REQUIRE(pipe(fds) == 0);
  pid_t child = fork();
  REQUIRE(child >= 0);
  if (child == 0) {
    close(fds[0]);
    std::string out;
    if (setgroups(0, nullptr) != 0 || setgid(user.gid) != 0 || setuid(user.uid) != 0) {
      out = "CANNOT-DROP";
    } else {
      try {
        resp_client c(socket);
        out = c.call(args).to_string();
      } catch (const std::exception& e) {
        out = std::string("CONNECT-FAILED ") + e.what();
      }
    }
    auto ignored = write(fds[1], out.data(), out.size());
    (void)ignored;
    _exit(0);
  }
  close(fds[1]);
  std::string reply;
  char buffer[4096];
  ssize_t n;
  while ((n = read(fds[0], buffer, sizeof(buffer))) > 0)
    reply.append(buffer, static_cast<std::size_t>(n));
  close(fds[0]);
  int status = 0;
  waitpid(child, &status, 0);
  return {reply, child};
}

// Every value of every key in Redis, as text.
std::string everything_in(resp_client& raw) {
  std::string all;
  for (const auto& key : raw.call({"KEYS", "*"}).elements) {
    auto type = raw.call({"TYPE", key.str}).str;
    if (type == "hash")
      all += raw.call({"HGETALL", key.str}).to_string();
    else if (type == "stream")
      all += raw.call({"XRANGE", key.str, "-", "+"}).to_string();
    else if (type == "string")
      all += raw.call({"GET", key.str}).to_string();
    else if (type == "zset")
      all += raw.call({"ZRANGE", key.str, "0", "-1"}).to_string();
    else if (type == "set")
      all += raw.call({"SMEMBERS", key.str}).to_string();
    all += key.str + "\n";
  }
  return all;
}

} // namespace

TEST_CASE("access rules by uid per secret name: refusals and uses are audited, never values") {
  auto reader = ensure_user("baton-reader");
  auto checker = ensure_user("baton-checker");
  test::test_redis redis;
  test::temp_dir dir;
  auto config = test::write_secret_config(
      dir, "s.yaml",
      "  audit_flush_ms: 50\n"
      "  access:\n"
      "    - {names: [\"billing/*\"], users: [baton-reader], allow: [get, verify]}\n"
      "    - {names: [billing/stripe], users: [baton-checker], allow: [verify]}\n",
      "socket: {mode: \"0666\"}\n");
  test::test_batond daemon(redis.unix_url(),
                           {"--node-id", "a", "--config", config, "--log-level", "debug"});
  // The daemon's private directory (mkdtemp: 0700) must let the test users reach the socket.
  auto socket_dir = daemon.socket_path().substr(0, daemon.socket_path().rfind('/'));
  REQUIRE(chmod(socket_dir.c_str(), 0711) == 0);
  // No core dumps: the kernel writes none for a non-dumpable process.
  CHECK(resp_client(daemon.socket_path()).call({"INFO", "server"}).str.find("dumpable:0\r\n") !=
        std::string::npos);
  const std::string canary = "sk_live_CANARY_0123456789";
  const std::string canary2 = "sk_live_SECOND_9876543210";
  resp_client root(daemon.socket_path());
  REQUIRE(field(root.call({"SECRET", "PUT", "billing/stripe", canary}), "version") == 1);

  auto got = call_as(reader, daemon.socket_path(), {"SECRET", "GET", "billing/stripe"});
  INFO(got.reply);
  CHECK(got.reply.find(canary) != std::string::npos);
  auto refused = call_as(checker, daemon.socket_path(), {"SECRET", "GET", "billing/stripe"});
  CHECK(refused.reply.find("NOPERM uid=" + std::to_string(checker.uid)) != std::string::npos);
  CHECK(refused.reply.find("may not get secret 'billing/stripe'") != std::string::npos);
  auto verified =
      call_as(checker, daemon.socket_path(), {"SECRET", "VERIFY", "billing/stripe", canary});
  CHECK(verified.reply.find("match") != std::string::npos);
  CHECK(verified.reply.find("current") != std::string::npos);
  CHECK(call_as(checker, daemon.socket_path(), {"SECRET", "INFO", "billing/stripe"})
            .reply.find("versions") != std::string::npos);
  CHECK(call_as(checker, daemon.socket_path(), {"SECRET", "PUT", "billing/stripe", "x"})
            .reply.find("NOPERM") != std::string::npos);
  CHECK(call_as(reader, daemon.socket_path(), {"SECRET", "ROTATE", "billing/stripe"})
            .reply.find("may not admin secret") != std::string::npos);
  CHECK(
      call_as(reader, daemon.socket_path(), {"SECRET", "GET", "payroll/db"}).reply.find("NOPERM") !=
      std::string::npos);
  CHECK(call_as(reader, daemon.socket_path(), {"SECRET", "REWRAP"}).reply.find("NOPERM") !=
        std::string::npos);

  // The audit trail: each call with who made it, refusals included.
  resp_client raw(redis.socket_path());
  auto entry_with = [&](std::int64_t uid, pid_t pid, const std::string& command,
                        const std::string& result) {
    for (const auto& e : raw.call({"XRANGE", "baton:secret-audit", "-", "+"}).elements) {
      const auto& f = e.elements.at(1);
      if (text_field(f, "uid") == std::to_string(uid) &&
          text_field(f, "pid") == std::to_string(pid) && text_field(f, "command") == command &&
          text_field(f, "result") == result && text_field(f, "secret") == "billing/stripe" &&
          text_field(f, "node") == "a")
        return true;
    }
    return false;
  };
  CHECK(test::eventually([&] { return entry_with(checker.uid, refused.pid, "get", "refused"); },
                         3000));
  CHECK(entry_with(reader.uid, got.pid, "get", "ok"));
  CHECK(entry_with(checker.uid, verified.pid, "verify", "current"));
  CHECK(entry_with(0, getpid(), "put", "ok"));
  CHECK(daemon.log().find("command=get secret=billing/stripe version=0 result=refused") !=
        std::string::npos);

  // Plaintext nowhere but in GET replies: not in errors, the log, metrics or Redis.
  CHECK(root.call({"SECRET", "ROTATE", "billing/stripe", "VALUE", canary2}).kind !=
        resp_value::type::error);
  std::vector<std::vector<std::string>> noise = {
      {"SECRET", "VERIFY", "billing/stripe", canary + "x"},
      {"SECRET", "VERIFY", "bad name!", canary},
      {"SECRET", "PUT", "billing/stripe", canary, "extra"},
      {"SECRET", "ROTATE", "billing/stripe", "VALUES", canary},
      {"SECRET", "VERIFY", "billing/stripe", canary},
      {"SECRET", "GET", "billing/stripe"},
      {"SECRET", "INFO", "billing/stripe"},
      {"SECRET", "NOPE", canary}};
  for (const auto& args : noise) {
    auto r = root.call(args);
    if (r.kind == resp_value::type::error) {
      CHECK(r.str.find(canary) == std::string::npos);
      CHECK(r.str.find(canary2) == std::string::npos);
    }
  }
  std::string metrics;
  REQUIRE(test::http_get(daemon.http_port(), "/metrics", &metrics) == 200);
  CHECK(metrics.find("baton_secret_refusals_total 5\n") != std::string::npos);
  // The checker's VERIFY before the rotation; after it, the old key matched as previous.
  CHECK(metrics.find("baton_secret_verifies_total{result=\"current\"} 1\n") != std::string::npos);
  CHECK(metrics.find("baton_secret_verifies_total{result=\"previous\"} 1\n") != std::string::npos);
  std::ofstream(dir.file("metrics.txt")) << metrics;
  std::string promtool;
  CHECK(test::run_command("promtool check metrics < " + dir.file("metrics.txt"), &promtool) == 0);
  INFO(promtool);
  std::this_thread::sleep_for(200ms); // the last audit batch
  auto redis_text = everything_in(raw);
  CHECK(redis_text.find("billing/stripe") != std::string::npos); // it did look at the keys
  for (const auto& secret : {canary, canary2}) {
    CHECK(daemon.log().find(secret) == std::string::npos);
    CHECK(metrics.find(secret) == std::string::npos);
    CHECK(redis_text.find(secret) == std::string::npos);
  }
}
