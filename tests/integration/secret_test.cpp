// Secrets through real batond processes against a real redis-server: PUT, GET, VERIFY and
// INFO across daemons, a rotation pushed to watchers on every daemon, hooks, retirement,
// rewrap under a new KEK, tampering and wrong KEKs answered with errors (never a wrong value),
// cached serving while Redis is down, and bad input.
#include <catch2/catch.hpp>

#include <csignal>
#include <thread>

#include "tests/integration/secret_fixture.hpp"

using namespace baton;
using protocol::resp_client;
using protocol::resp_value;
using test::field;
using test::text_field;
using test::value_of;
using namespace std::chrono_literals;

namespace {

resp_value next_push(resp_client& c) {
  return c.read();
}

} // namespace

TEST_CASE("PUT, GET, VERIFY and INFO across two daemons: ROTATE reaches the other's watchers",
          "[portable]") {
  test::test_backend redis;
  test::temp_dir dir;
  auto config = test::write_secret_config(dir, "s.yaml", "  grace_ms: 60000\n  refresh_ms: 200\n");
  auto a = test::secret_daemon(redis, "a", config);
  auto b = test::secret_daemon(redis, "b", config);
  resp_client ca(a->socket_path()), cb(b->socket_path());
  CHECK(cb.call({"SECRET", "GET", "stripe"}).kind == resp_value::type::null);
  resp_client watcher(b->socket_path());
  watcher.call({"HELLO", "3"});
  CHECK(watcher.call({"SECRET", "WATCH", "stripe"}).integer == 1);

  auto put = ca.call({"SECRET", "PUT", "stripe", "sk_live_one"});
  REQUIRE(field(put, "version") == 1);
  CHECK(field(put, "previous") == 0);
  auto pushed = next_push(watcher);
  REQUIRE(pushed.elements.size() == 5);
  CHECK(pushed.elements[1].str == "rotated");
  CHECK(pushed.elements[2].str == "stripe");
  CHECK(pushed.elements[3].integer == 1);
  auto got = cb.call({"SECRET", "GET", "stripe"});
  CHECK(value_of(got) == "sk_live_one");
  CHECK(field(got, "version") == 1);
  CHECK(field(got, "degraded") == 0);

  auto rotated = ca.call({"SECRET", "ROTATE", "stripe"});
  REQUIRE(field(rotated, "version") == 2);
  CHECK(field(rotated, "previous") == 1);
  CHECK(next_push(watcher).elements.at(3).integer == 2);
  auto fresh = cb.call({"SECRET", "GET", "stripe"});
  CHECK(field(fresh, "version") == 2);
  CHECK(value_of(fresh).size() == 64); // 32 random bytes in hex
  auto old_key = cb.call({"SECRET", "VERIFY", "stripe", "sk_live_one"});
  CHECK(field(old_key, "match") == 1);
  CHECK(text_field(old_key, "state") == "previous");
  auto new_key = cb.call({"SECRET", "VERIFY", "stripe", value_of(fresh)});
  CHECK(text_field(new_key, "state") == "current");
  CHECK(field(cb.call({"SECRET", "VERIFY", "stripe", "sk_live_onf"}), "match") == 0);
  CHECK(field(cb.call({"SECRET", "VERIFY", "stripe", ""}), "match") == 0);

  // INFO: versions and states, uses summed over both daemons, which node runs what.
  ca.call({"SECRET", "GET", "stripe"});
  auto info = ca.call({"SECRET", "INFO", "stripe"});
  CHECK(field(info, "current") == 2);
  const auto* versions = test::find_field(info, "versions");
  REQUIRE(versions);
  REQUIRE(versions->elements.size() == 2);
  CHECK(text_field(versions->elements[0], "state") == "current");
  CHECK(text_field(versions->elements[1], "state") == "previous");
  CHECK(text_field(versions->elements[0], "kek") == "k1");
  CHECK(test::eventually(
      [&] {
        auto i = ca.call({"SECRET", "INFO", "stripe"});
        const auto* v = test::find_field(i, "versions");
        // b: 2 GETs (v1, v2) and 2 matching VERIFYs; a: 1 GET of v2.
        return v && field(v->elements[0], "uses") == 3 && field(v->elements[1], "uses") == 2;
      },
      3000));
  const auto* nodes = test::find_field(info, "nodes");
  REQUIRE(nodes);
  CHECK(nodes->elements.size() == 2);
  for (const auto& n : nodes->elements)
    CHECK(field(n, "version") == 2);
  auto text = info.to_string();
  CHECK(text.find("sk_live_one") == std::string::npos); // never values
}

TEST_CASE("a previous version stops verifying after its grace and is retired", "[portable]") {
  test::test_backend redis;
  test::temp_dir dir;
  auto config = test::write_secret_config(
      dir, "s.yaml", "  grace_ms: 300\n  refresh_ms: 100\n  ack_liveness_ms: 2000\n");
  auto a = test::secret_daemon(redis, "a", config);
  resp_client c(a->socket_path());
  REQUIRE(field(c.call({"SECRET", "PUT", "db", "first"}), "version") == 1);
  REQUIRE(field(c.call({"SECRET", "PUT", "db", "second"}), "version") == 2);
  CHECK(field(c.call({"SECRET", "VERIFY", "db", "first"}), "match") == 1);
  std::this_thread::sleep_for(350ms);
  CHECK(field(c.call({"SECRET", "VERIFY", "db", "first"}), "match") == 0);
  CHECK(test::eventually(
      [&] {
        return redis.cli({"HGET", "baton:secret:{db}", "v1.state"}) == "retired";
      },
      3000));
  CHECK(redis.cli({"HEXISTS", "baton:secret:{db}", "v1.ct"}) == "0");
  CHECK(value_of(c.call({"SECRET", "GET", "db"})) == "second");
}

TEST_CASE("hooks generate the new value and may refuse it", "[portable]") {
  test::test_backend redis;
  test::temp_dir dir;
  std::ofstream(dir.file("verdict")) << "0";
  auto config = test::write_secret_config(
      dir, "s.yaml",
      "  items:\n"
      "    - name: api\n"
      "      generate_hook: 'echo \"key-$BATON_SECRET-v$BATON_SECRET_VERSION\"'\n"
      "      test_hook: 'read v; echo \"$v\" >> " +
          dir.file("tested") + "; exit $(cat " + dir.file("verdict") +
          ")'\n"
          "    - name: slow\n"
          "      generate_hook: 'sleep 5'\n"
          "  hook_timeout_ms: 300\n");
  auto a = test::secret_daemon(redis, "a", config);
  resp_client c(a->socket_path());
  auto first = c.call({"SECRET", "ROTATE", "api"});
  REQUIRE(field(first, "version") == 1);
  CHECK(value_of(c.call({"SECRET", "GET", "api"})) == "key-api-v1");
  std::ifstream tested(dir.file("tested"));
  std::string line;
  std::getline(tested, line);
  CHECK(line == "key-api-v1"); // the test hook saw the value on stdin

  std::ofstream(dir.file("verdict")) << "3";
  auto refused = c.call({"SECRET", "ROTATE", "api"});
  CHECK(refused.str.rfind("ERR the test hook refused the new value: exited with status 3", 0) == 0);
  CHECK(value_of(c.call({"SECRET", "GET", "api"})) == "key-api-v1");  // unchanged
  CHECK(redis.cli({"HGET", "baton:secret:{api}", "pending"}) == "0"); // rolled back

  auto start = std::chrono::steady_clock::now();
  auto slow = c.call({"SECRET", "ROTATE", "slow"});
  CHECK(slow.str.find("the generate hook failed: timed out after 300 ms") != std::string::npos);
  CHECK(std::chrono::steady_clock::now() - start < 3s);
  // PUT skips the hooks.
  CHECK(field(c.call({"SECRET", "PUT", "api", "hand-made"}), "version") >= 2);
  CHECK(value_of(c.call({"SECRET", "GET", "api"})) == "hand-made");

  // SIGTERM while a hook runs: the hook is killed and batond stops cleanly at once.
  std::thread rotating([&] {
    try {
      resp_client r(a->socket_path());
      r.call({"SECRET", "ROTATE", "slow"});
    } catch (const std::exception&) {
    }
  });
  std::this_thread::sleep_for(100ms);
  auto stopping = std::chrono::steady_clock::now();
  CHECK(a->stop() == 0);
  CHECK(std::chrono::steady_clock::now() - stopping < 2s);
  rotating.join();
}

TEST_CASE("a scheduled secret is created and rotated by one daemon", "[portable]") {
  test::test_backend redis;
  test::temp_dir dir;
  auto config = test::write_secret_config(dir, "s.yaml",
                                          "  refresh_ms: 100\n  ack_liveness_ms: 2000\n"
                                          "  items:\n    - {name: tick, rotate_every_ms: 1000, "
                                          "grace_ms: 500, encoding: base64}\n");
  auto a = test::secret_daemon(redis, "a", config);
  auto b = test::secret_daemon(redis, "b", config);
  resp_client c(a->socket_path());
  // Nobody PUT it: the schedule creates it.
  CHECK(test::eventually(
      [&] {
        return test::find_field(c.call({"SECRET", "GET", "tick"}), "version") != nullptr;
      },
      3000));
  auto first = field(c.call({"SECRET", "GET", "tick"}), "version");
  CHECK(test::eventually(
      [&] {
        return field(c.call({"SECRET", "GET", "tick"}), "version") >= first + 2;
      },
      5000));
  // Two daemons on one schedule: each rotation happened once (versions are dense).
  auto info = c.call({"SECRET", "INFO", "tick"});
  auto current = field(info, "current");
  CHECK(current <= first + 3);
}

TEST_CASE("rewrap moves every data key to the active KEK without changing values", "[portable]") {
  test::test_backend redis;
  test::temp_dir dir;
  auto old_only = test::write_secret_config(dir, "old.yaml");
  std::ofstream(dir.file("k2.kek")) << std::string(64, 'b') << "\n";
  std::ofstream(dir.file("both.yaml"))
      << "secrets:\n  keks:\n    - {id: k2, file: " << dir.file("k2.kek") << "}\n"
      << "    - {id: k1, file: " << dir.file("old.yaml.kek") << "}\n";
  std::ofstream(dir.file("new.yaml"))
      << "secrets:\n  keks:\n    - {id: k2, file: " << dir.file("k2.kek") << "}\n";
  {
    auto a = test::secret_daemon(redis, "a", old_only);
    resp_client c(a->socket_path());
    c.call({"SECRET", "PUT", "one", "v-one"});
    c.call({"SECRET", "PUT", "two", "v-two-a"});
    c.call({"SECRET", "PUT", "two", "v-two-b"});
  }
  {
    // Only the new KEK: the old data keys cannot be unwrapped.
    auto fresh = test::secret_daemon(redis, "n", dir.file("new.yaml"));
    resp_client c(fresh->socket_path());
    auto r = c.call({"SECRET", "GET", "one"});
    CHECK(r.str.find("cannot be decrypted") != std::string::npos);
    CHECK(r.str.find("KEK 'k1'") != std::string::npos);
  }
  auto both = test::secret_daemon(redis, "b", dir.file("both.yaml"));
  resp_client c(both->socket_path());
  CHECK(field(c.call({"SECRET", "REWRAP", "one"}), "rewrapped") == 1);
  std::string output;
  CHECK(test::run_command(std::string(BATONCTL_PATH) + " --socket " + both->socket_path() +
                              " secret rewrap",
                          &output) == 0);
  CHECK(output.find("rewrapped 2 data keys; 1 already under the active KEK; 0 failed") !=
        std::string::npos);
  CHECK(field(c.call({"SECRET", "REWRAP"}), "already") == 3);
  CHECK(test::run_command(std::string(BATONCTL_PATH) + " --socket " + both->socket_path() +
                              " secret info two",
                          &output) == 0);
  CHECK(output.find("v1  previous  kek k2") != std::string::npos);
  CHECK(redis.cli({"HGET", "baton:secret:{two}", "v1.kek"}) == "k2");
  auto fresh = test::secret_daemon(redis, "n2", dir.file("new.yaml"));
  resp_client after(fresh->socket_path());
  CHECK(value_of(after.call({"SECRET", "GET", "one"})) == "v-one");
  CHECK(value_of(after.call({"SECRET", "GET", "two"})) == "v-two-b");
  CHECK(field(after.call({"SECRET", "VERIFY", "two", "v-two-a"}), "match") == 1);
}

TEST_CASE("tampering, a swapped version or another secret's ciphertext, and a wrong KEK fail") {
  test::test_redis redis;
  test::temp_dir dir;
  auto config = test::write_secret_config(dir, "s.yaml");
  {
    auto a = test::secret_daemon(redis, "a", config);
    resp_client c(a->socket_path());
    c.call({"SECRET", "PUT", "x", "value-x1"});
    c.call({"SECRET", "PUT", "x", "value-x2"});
    c.call({"SECRET", "PUT", "y", "value-y1"});
    c.call({"SECRET", "PUT", "z", "value-z1"});
  }
  resp_client raw(redis.socket_path());
  // x: one flipped byte of ciphertext.
  auto ct = raw.call({"HGET", "baton:secret:{x}", "v2.ct"}).str;
  ct[ct.size() / 2] ^= 1;
  raw.call({"HSET", "baton:secret:{x}", "v2.ct", ct});
  // y: version 1 made to look like version 1 of z (another name).
  for (auto f : {"v1.kek", "v1.wkey", "v1.ct"})
    raw.call({"HSET", "baton:secret:{y}", f, raw.call({"HGET", "baton:secret:{z}", f}).str});
  auto a = test::secret_daemon(redis, "a", config);
  resp_client c(a->socket_path());
  auto x = c.call({"SECRET", "GET", "x"});
  CHECK(x.kind == resp_value::type::error);
  CHECK(x.str.find("version 2 of secret 'x' cannot be decrypted") != std::string::npos);
  CHECK(x.str.find("value-x") == std::string::npos);
  auto y = c.call({"SECRET", "GET", "y"});
  CHECK(y.kind == resp_value::type::error);
  CHECK(y.str.find("value-z") == std::string::npos);
  CHECK(field(c.call({"SECRET", "VERIFY", "y", "value-z1"}), "match") == 0);
  CHECK(value_of(c.call({"SECRET", "GET", "z"})) == "value-z1");
  // A daemon with another key under the same KEK id opens nothing.
  auto wrong = test::write_secret_config(dir, "wrong.yaml", "", "", std::string(64, 'c'));
  auto w = test::secret_daemon(redis, "w", wrong);
  resp_client cw(w->socket_path());
  auto z = cw.call({"SECRET", "GET", "z"});
  CHECK(z.kind == resp_value::type::error);
  CHECK(z.str.find("cannot be decrypted") != std::string::npos);
}

TEST_CASE("cached secrets are served while Redis is down, and say so") {
  test::test_redis redis;
  test::temp_dir dir;
  auto config = test::write_secret_config(dir, "s.yaml", "", "redis: {call_timeout_ms: 100}\n");
  auto a = test::secret_daemon(redis, "a", config);
  resp_client c(a->socket_path());
  c.call({"SECRET", "PUT", "cached", "still-here"});
  redis.kill();
  auto start = std::chrono::steady_clock::now();
  CHECK(test::eventually(
      [&] {
        return field(c.call({"SECRET", "GET", "cached"}), "degraded") == 1;
      },
      3000));
  auto got = c.call({"SECRET", "GET", "cached"});
  CHECK(value_of(got) == "still-here");
  auto v = c.call({"SECRET", "VERIFY", "cached", "still-here"});
  CHECK(field(v, "match") == 1);
  CHECK(field(v, "degraded") == 1);
  // Nothing served here matches, and without Redis there is no telling whether a newer
  // version (promoted while this daemon could not hear) does: not "no match" but UNAVAILABLE.
  // The chaos harness caught the old "no match" refusing a current key behind a lossy link.
  auto t = std::chrono::steady_clock::now();
  auto wrong = c.call({"SECRET", "VERIFY", "cached", "nope"});
  CHECK(wrong.str.rfind("UNAVAILABLE", 0) == 0);
  CHECK(std::chrono::steady_clock::now() - t < 500ms); // no waiting for a Redis that is gone
  t = std::chrono::steady_clock::now();
  auto unknown = c.call({"SECRET", "GET", "never-loaded"});
  CHECK(unknown.str.rfind("UNAVAILABLE", 0) == 0);
  CHECK(std::chrono::steady_clock::now() - t < 1500ms);
  CHECK(c.call({"SECRET", "ROTATE", "cached"}).str.rfind("UNAVAILABLE", 0) == 0);
  CHECK(std::chrono::steady_clock::now() - start < 3s);
  // This Redis keeps nothing on disk: it comes back empty, and the daemon says so at once
  // instead of serving a secret Redis no longer has.
  redis.start();
  CHECK(test::eventually(
      [&] {
        return c.call({"SECRET", "GET", "cached"}).kind == resp_value::type::null;
      },
      5000));
  c.call({"SECRET", "PUT", "cached", "put-again"});
  auto back = c.call({"SECRET", "GET", "cached"});
  CHECK(value_of(back) == "put-again");
  CHECK(field(back, "degraded") == 0);
}

TEST_CASE("bad secret input gets clear errors", "[portable]") {
  test::test_backend redis;
  test::temp_dir dir;
  {
    test::test_batond off(redis.url());
    resp_client c(off.socket_path());
    CHECK(c.call({"SECRET", "GET", "x"}).str ==
          "ERR secrets are off on this daemon: the config names no secrets.keks");
    // Without secrets the daemon stays dumpable (core dumps help debugging).
    CHECK(c.call({"INFO", "server"}).str.find("dumpable:1\r\n") != std::string::npos);
  }
  auto config = test::write_secret_config(dir, "s.yaml", "  max_value_bytes: 16\n");
  auto a = test::secret_daemon(redis, "a", config);
  resp_client c(a->socket_path());
  CHECK(c.call({"SECRET", "GET", "bad name"}).str.rfind("ERR a secret name is 1 to 128", 0) == 0);
  CHECK(c.call({"SECRET", "GET", std::string(129, 'n')}).str.rfind("ERR a secret name", 0) == 0);
  CHECK(c.call({"SECRET", "GET", ""}).str.rfind("ERR a secret name", 0) == 0);
  CHECK(c.call({"SECRET", "PUT", "x", std::string(17, 'v')}).str ==
        "ERR a secret value is 1 to 16 bytes (secrets.max_value_bytes), got 17");
  CHECK(c.call({"SECRET", "PUT", "x", ""}).str.rfind("ERR a secret value is 1 to 16", 0) == 0);
  CHECK(c.call({"SECRET", "ROTATE", "x", "VALUE"}).str ==
        "ERR syntax error; expected SECRET ROTATE name [VALUE v]");
  CHECK(c.call({"SECRET", "ROTATE", "x", "NOPE", "v"}).str ==
        "ERR syntax error; expected SECRET ROTATE name [VALUE v]");
  CHECK(c.call({"SECRET", "VERIFY", "x"}).str.rfind("ERR wrong number of arguments", 0) == 0);
  CHECK(c.call({"SECRET", "FROB", "x"}).str.rfind("ERR unknown subcommand", 0) == 0);
  CHECK(c.call({"SECRET", "GET", "x"}).kind == resp_value::type::null);
  CHECK(c.call({"SECRET", "INFO", "x"}).kind == resp_value::type::null);
  CHECK(c.call({"PING"}).str == "PONG"); // still serving
}

TEST_CASE("previous is not retired while a live daemon still serves it", "[portable]") {
  test::test_backend redis;
  test::temp_dir dir;
  auto config = test::write_secret_config(
      dir, "s.yaml", "  grace_ms: 200\n  refresh_ms: 100\n  ack_liveness_ms: 1500\n");
  auto a = test::secret_daemon(redis, "a", config);
  auto b = test::secret_daemon(redis, "b", config);
  resp_client ca(a->socket_path()), cb(b->socket_path());
  REQUIRE(field(ca.call({"SECRET", "PUT", "db", "one"}), "version") == 1);
  REQUIRE(value_of(cb.call({"SECRET", "GET", "db"})) == "one"); // b serves version 1
  CHECK(test::eventually([&] {
    return redis.cli({"HGET", "baton:secret:{db}:acks", "b"}).rfind("1 ", 0) == 0;
  }));
  b->signal(SIGSTOP); // b is alive but cannot take the news
  auto rotated_at = std::chrono::steady_clock::now();
  REQUIRE(field(ca.call({"SECRET", "PUT", "db", "two"}), "version") == 2);
  // Grace (200 ms) is over, but b acknowledged within the liveness window and serves v1.
  std::this_thread::sleep_for(700ms);
  CHECK(redis.cli({"HGET", "baton:secret:{db}", "v1.state"}) == "previous");
  CHECK(a->log().find("previous version not retired yet") != std::string::npos);
  // Once b has been silent for longer than the liveness window, it is not waited for.
  CHECK(test::eventually(
      [&] {
        return redis.cli({"HGET", "baton:secret:{db}", "v1.state"}) == "retired";
      },
      4000));
  CHECK(std::chrono::steady_clock::now() - rotated_at >= 1400ms);
  b->signal(SIGCONT);
  CHECK(test::eventually([&] { return value_of(cb.call({"SECRET", "GET", "db"})) == "two"; }));
}
