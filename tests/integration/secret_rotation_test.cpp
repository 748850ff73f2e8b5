// Rotations under load and under crashes, with real daemons on a real redis-server:
// - clients on 3 daemons GET and VERIFY in a loop while rotations run back to back, and no
//   key that was current within the grace window is ever refused;
// - the rotating daemon is killed with SIGKILL at each step of the state machine (failpoints),
//   the secret stays readable throughout, and the next rotation completes.
#include <catch2/catch.hpp>

#include <sys/wait.h>

#include <atomic>
#include <cstdlib>
#include <deque>
#include <mutex>
#include <random>
#include <thread>

#include "tests/integration/secret_fixture.hpp"
#include "tests/support/test_backend.hpp"

using namespace baton;
using protocol::resp_client;
using protocol::resp_value;
using test::field;
using test::text_field;
using test::value_of;
using namespace std::chrono_literals;
using clock_type = std::chrono::steady_clock;

TEST_CASE("rotation under load: no key current within the grace window is refused", "[portable]") {
  test::test_backend redis;
  test::temp_dir dir;
  constexpr auto grace = 2000ms;
  auto config = test::write_secret_config(dir, "s.yaml",
                                          "  grace_ms: 2000\n  refresh_ms: 200\n"
                                          "  ack_liveness_ms: 3000\n");
  std::vector<std::unique_ptr<test::test_batond>> daemons;
  for (auto node : {"a", "b", "c"})
    daemons.push_back(test::secret_daemon(redis, node, config));
  {
    resp_client c(daemons[0]->socket_path());
    REQUIRE(field(c.call({"SECRET", "PUT", "api", "initial-key"}), "version") == 1);
  }
  std::atomic<bool> running{true};
  std::atomic<long> gets{0}, verifies{0}, refused{0}, errors{0}, rotations{0};
  std::mutex failures_mutex;
  std::vector<std::string> failures;

  // Each client GETs the key on its daemon, then has it verified on every daemon (the way a
  // key handed out by one server is checked by others), and re-verifies keys it got earlier
  // while they are within the grace window.
  std::vector<std::thread> clients;
  for (int i = 0; i < 6; ++i)
    clients.emplace_back([&, i] {
      std::vector<std::unique_ptr<resp_client>> conns;
      for (auto& d : daemons)
        conns.push_back(std::make_unique<resp_client>(d->socket_path()));
      auto& own = *conns[i % 3];
      std::deque<std::pair<std::string, clock_type::time_point>> held;
      std::minstd_rand pick(i);
      while (running) {
        auto got = own.call({"SECRET", "GET", "api"});
        auto now = clock_type::now();
        ++gets;
        if (got.kind == resp_value::type::error) {
          ++errors;
          continue;
        }
        held.emplace_back(value_of(got), now);
        while (held.size() > 20 || now - held.front().second > grace - 500ms)
          held.pop_front();
        for (const auto& [key, since] : held) {
          auto& other = *conns[pick() % 3];
          auto v = other.call({"SECRET", "VERIFY", "api", key});
          ++verifies;
          if (v.kind == resp_value::type::error) {
            ++errors;
          } else if (field(v, "match") != 1) {
            ++refused;
            std::lock_guard<std::mutex> lock(failures_mutex);
            failures.push_back(key + " refused " +
                               std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(
                                                  clock_type::now() - since)
                                                  .count()) +
                               " ms after it was current");
          }
        }
      }
    });
  std::thread rotator([&] {
    std::vector<std::unique_ptr<resp_client>> conns;
    for (auto& d : daemons)
      conns.push_back(std::make_unique<resp_client>(d->socket_path()));
    auto until = clock_type::now() + 4s;
    for (int n = 0; clock_type::now() < until; ++n) {
      auto r = conns[n % 3]->call({"SECRET", "ROTATE", "api"});
      if (r.kind == resp_value::type::error)
        ++errors;
      else
        ++rotations;
      std::this_thread::sleep_for(40ms);
    }
  });
  rotator.join();
  running = false;
  for (auto& t : clients)
    t.join();
  INFO("gets " << gets << ", verifies " << verifies << ", rotations " << rotations);
  for (const auto& f : failures)
    UNSCOPED_INFO(f);
  CHECK(rotations >= 40);
  CHECK(verifies > 1000);
  CHECK(refused == 0);
  CHECK(errors == 0);
}

namespace {

// A call to a daemon that dies while answering: the connection drops (an exception or an
// error from the client), which is what the test expects.
bool call_dies(const std::string& socket, const std::vector<std::string>& args) {
  try {
    resp_client c(socket);
    auto r = c.call(args);
    return r.kind == resp_value::type::error;
  } catch (const std::exception&) {
    return true;
  }
}

} // namespace

TEST_CASE("kill -9 of the rotating daemon at each step leaves the secret usable", "[portable]") {
  test::test_backend redis;
  test::temp_dir dir;
  const std::vector<std::string> steps = {"secret-after-lease", "secret-after-begin",
                                          "secret-after-stage", "secret-after-test",
                                          "secret-after-promote"};
  std::string items = "  rotation_lease_ms: 1000\n  hook_timeout_ms: 500\n  items:\n";
  for (std::size_t i = 0; i < steps.size(); ++i)
    items += "    - {name: s" + std::to_string(i) + ", test_hook: 'cat > /dev/null'}\n";
  auto config = test::write_secret_config(dir, "s.yaml", items);
  auto survivor = test::secret_daemon(redis, "b", config);
  resp_client b(survivor->socket_path());

  for (std::size_t i = 0; i < steps.size(); ++i) {
    const auto name = "s" + std::to_string(i);
    DYNAMIC_SECTION("killed at " << steps[i]) {
      REQUIRE(field(b.call({"SECRET", "PUT", name, "before-" + name}), "version") == 1);
      ::setenv("BATON_FAILPOINTS", steps[i].c_str(), 1);
      auto victim = test::secret_daemon(redis, "victim", config);
      ::unsetenv("BATON_FAILPOINTS");
      CHECK(call_dies(victim->socket_path(), {"SECRET", "ROTATE", name}));
      int status = victim->wait_exit();
      CHECK((WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL));
      CHECK(victim->log().find(steps[i]) != std::string::npos);

      // Readable throughout: the old version, or the new one if promotion happened.
      auto during = b.call({"SECRET", "GET", name});
      REQUIRE(during.kind != resp_value::type::error);
      CHECK(field(b.call({"SECRET", "VERIFY", name, value_of(during)}), "match") == 1);

      // The next rotation waits out the dead rotator's lease, then completes.
      resp_value next;
      CHECK(test::eventually(
          [&] {
            next = b.call({"SECRET", "ROTATE", name});
            return next.kind != resp_value::type::error;
          },
          5000));
      INFO(next.to_string());
      auto info = b.call({"SECRET", "INFO", name});
      CHECK(field(info, "pending") == 0);
      CHECK(field(info, "current") == field(next, "version"));
      bool staged = steps[i] == "secret-after-stage" || steps[i] == "secret-after-test";
      CHECK(field(next, "finished_pending") == (staged ? 1 : 0));
      if (staged) CHECK(field(next, "version") == 2); // the half-done version, finished
      auto after = b.call({"SECRET", "GET", name});
      CHECK(field(after, "version") == field(next, "version"));
      CHECK(value_of(after) != "before-" + name);
      // The version before still verifies for its grace window.
      CHECK(field(b.call({"SECRET", "VERIFY", name, value_of(during)}), "match") == 1);
    }
  }
}
