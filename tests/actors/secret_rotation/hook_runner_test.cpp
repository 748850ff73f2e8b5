// Hooks are real processes: these run /bin/sh. A hook starts clean (no daemon environment,
// no inherited descriptor), a hook past its timeout is killed with what it started, and the
// runner actor answers from a detached actor of its own while its caller waits on nothing.
#include <catch2/catch.hpp>

#include <caf/all.hpp>

#include <algorithm>

#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#include "actors/secret_rotation/hook_runner.hpp"

using namespace baton::secret;
using namespace std::chrono_literals;

namespace {

std::string text(const secure_bytes& b) {
  return std::string(reinterpret_cast<const char*>(b.data()), b.size());
}

} // namespace

TEST_CASE("a hook gets a clean environment with its BATON_* variables") {
  setenv("BATON_TEST_KEK_HEX", "00112233", 1); // what a daemon's environment may hold
  auto r = run_hook("env", secure_bytes(), {"BATON_SECRET=stripe"}, 5000ms);
  unsetenv("BATON_TEST_KEK_HEX");
  REQUIRE(r.ok);
  auto env = text(r.output);
  CHECK(env.find("BATON_SECRET=stripe") != std::string::npos);
  CHECK(env.find(std::string("PATH=") + hook_path) != std::string::npos);
  CHECK(env.find("BATON_TEST_KEK_HEX") == std::string::npos);
}

TEST_CASE("a hook inherits no descriptor but its standard streams") {
  int leaked = open("/dev/null", O_RDONLY); // no O_CLOEXEC: as a socket of the daemon might be
  REQUIRE(leaked > 2);
  auto r = run_hook("exec ls /proc/self/fd", secure_bytes(), {}, 5000ms);
  close(leaked);
  REQUIRE(r.ok);
  // ls sees 0, 1, 2 and the directory it is reading, nothing else.
  CHECK(text(r.output) == "0\n1\n2\n3\n");
}

TEST_CASE("a hook reads its input and a failing hook says why") {
  auto r = run_hook("tr a-z A-Z", secure_bytes(std::string_view("new-key")), {}, 5000ms);
  REQUIRE(r.ok);
  CHECK(text(r.output) == "NEW-KEY");
  auto failed = run_hook("exit 3", secure_bytes(), {}, 5000ms);
  CHECK_FALSE(failed.ok);
  CHECK(failed.why == "exited with status 3");
}

TEST_CASE("a hook past its timeout is killed with what it started") {
  auto start = std::chrono::steady_clock::now();
  auto r = run_hook("sleep 30 & sleep 30", secure_bytes(), {}, 200ms);
  CHECK_FALSE(r.ok);
  CHECK(r.why.find("timed out") != std::string::npos);
  // Generous: the point is that it did not wait for the 30 s sleeps.
  CHECK(std::chrono::steady_clock::now() - start < 10s);
}

TEST_CASE("the runner actor answers from a detached actor per hook") {
  caf::actor_system_config config;
  caf::actor_system system(config);
  auto runner = spawn_hook_runner(system);
  caf::scoped_actor self{system};
  // The first hook waits for a file only the second creates: a runner that ran hooks one at
  // a time would see the first time out.
  char dir[] = "/tmp/baton-hook-XXXXXX";
  REQUIRE(mkdtemp(dir) != nullptr);
  auto flag = std::string(dir) + "/flag";
  self->send(
      runner, baton::atoms::hook::value,
      hook_job{"while [ ! -e " + flag + " ]; do sleep 0.02; done; echo first", nullptr, {}, 20000});
  self->send(runner, baton::atoms::hook::value,
             hook_job{"touch " + flag + "; echo second", nullptr, {}, 20000});
  std::vector<std::string> outputs;
  for (int i = 0; i < 2; ++i)
    self->receive(
        [&](hook_reply& r) {
          REQUIRE(r);
          CHECK(r->ok);
          outputs.push_back(text(r->output));
        },
        caf::after(30s) >> [] { FAIL("no answer from the hook runner"); });
  std::sort(outputs.begin(), outputs.end());
  CHECK(outputs == std::vector<std::string>{"first\n", "second\n"});
  unlink(flag.c_str());
  rmdir(dir);
  caf::anon_send_exit(runner, caf::exit_reason::user_shutdown);
}

TEST_CASE("a hook cannot dump core: what it holds (a new secret) stays out of core files") {
  auto r = run_hook("ulimit -c; ulimit -H -c", secure_bytes(), {}, 5000ms);
  REQUIRE(r.ok);
  CHECK(text(r.output) == "0\n0\n");
}
