// The Redis link as an actor: requests from other actors reach real Redis through the pool on
// the I/O thread and come back as responses; scripts reload after SCRIPT FLUSH; a dead Redis
// answers `unavailable` within the budget; many concurrent requests all get their own reply.
#include <catch2/catch.hpp>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/post.hpp>
#include <caf/all.hpp>

#include <set>
#include <thread>

#include "actors/redis_link/redis_link_actor.hpp"
#include "protocol/atoms.hpp"
#include "tests/support/test_redis.hpp"

using namespace baton;
using namespace baton::redis_link;
using namespace std::chrono_literals;

namespace {

struct actor_fixture {
  test::test_redis redis;
  boost::asio::io_context io;
  link_counters counters;
  std::unique_ptr<redis_pool> pool;
  std::thread io_thread;
  caf::actor_system_config config;
  std::unique_ptr<caf::actor_system> system;
  redis_link_actor link;

  actor_fixture() {
    link_settings s;
    std::string error;
    s.endpoint = *parse_redis_url(redis.unix_url(), error);
    s.call_timeout = 200ms;
    s.reconnect_min = 20ms;
    s.reconnect_max = 100ms;
    pool = std::make_unique<redis_pool>(io, s, counters);
    boost::asio::post(io, [this] { pool->start(); });
    io_thread = std::thread([this] {
      auto work = boost::asio::make_work_guard(io);
      io.run();
    });
    config.set("scheduler.policy", caf::atom("sharing"));
    config.set("scheduler.max-threads", std::size_t{2});
    system = std::make_unique<caf::actor_system>(config);
    link = spawn_redis_link_actor(*system, *pool, io);
  }

  ~actor_fixture() {
    caf::anon_send_exit(link, caf::exit_reason::user_shutdown);
    link = nullptr;
    system.reset();
    boost::asio::post(io, [this] {
      pool->stop();
      io.stop();
    });
    io_thread.join();
  }

  redis_reply call(std::vector<std::string> args) {
    caf::scoped_actor self{*system};
    redis_reply result = redis_reply::unavailable("no answer");
    self->request(link, 5s, atoms::redis_call::value, std::move(args))
        .receive([&](redis_reply& r) { result = std::move(r); },
                 [&](caf::error& e) { result = redis_reply::unavailable(system->render(e)); });
    return result;
  }

  redis_reply script(const std::string& name) {
    caf::scoped_actor self{*system};
    redis_reply result = redis_reply::unavailable("no answer");
    self->request(link, 5s, atoms::redis_script::value, script_call{name, {}, {}, 0})
        .receive([&](redis_reply& r) { result = std::move(r); },
                 [&](caf::error& e) { result = redis_reply::unavailable(system->render(e)); });
    return result;
  }
};

} // namespace

TEST_CASE_METHOD(actor_fixture, "actors reach Redis through the link actor") {
  CHECK(call({"PING"}).str == "PONG");
  CHECK(call({"SET", "actor-key", "v"}).str == "OK");
  CHECK(call({"GET", "actor-key"}).str == "v");
  CHECK(script("time").kind == reply_kind::array);
  CHECK(redis.cli({"SCRIPT", "FLUSH"}) == "OK");
  auto reloads = counters.script_reloads.load();
  CHECK(script("time").kind == reply_kind::array);
  CHECK(counters.script_reloads.load() == reloads + 1);
}

TEST_CASE_METHOD(actor_fixture, "concurrent requests from many actors each get their own reply") {
  caf::scoped_actor self{*system};
  const int n = 500;
  for (int i = 0; i < n; ++i)
    self->send(link, atoms::redis_call::value, std::vector<std::string>{"ECHO", std::to_string(i)});
  // Replies to plain sends come back as ordinary messages, one per request.
  std::set<std::string> seen;
  for (int i = 0; i < n; ++i)
    self->receive([&](redis_reply& r) { seen.insert(r.str); },
                  caf::after(5s) >> [&] { FAIL("reply missing"); });
  CHECK(seen.size() == static_cast<std::size_t>(n));
}

TEST_CASE_METHOD(actor_fixture, "with Redis gone the actor answers unavailable within the budget") {
  REQUIRE(call({"PING"}).str == "PONG");
  redis.kill();
  auto t = std::chrono::steady_clock::now();
  auto reply = call({"GET", "x"});
  CHECK(reply.is_unavailable());
  CHECK(std::chrono::steady_clock::now() - t < 200ms + 300ms);
  redis.start();
  CHECK(test::eventually([&] { return call({"PING"}).str == "PONG"; }));
}

TEST_CASE_METHOD(actor_fixture, "a batch of script calls comes back in order, all at once") {
  caf::scoped_actor self{*system};
  std::vector<script_call> calls;
  for (int i = 0; i < 50; ++i)
    calls.push_back({"time", {}, {}, i % 2 ? 0 : 1000});
  std::vector<redis_reply> replies;
  self->request(link, 5s, atoms::redis_batch::value, calls)
      .receive([&](std::vector<redis_reply>& r) { replies = std::move(r); },
               [&](caf::error& e) { FAIL(system->render(e)); });
  REQUIRE(replies.size() == calls.size());
  for (const auto& r : replies)
    CHECK(r.kind == reply_kind::array);
  // An empty batch is answered at once.
  self->request(link, 5s, atoms::redis_batch::value, std::vector<script_call>{})
      .receive([&](std::vector<redis_reply>& r) { CHECK(r.empty()); },
               [&](caf::error& e) { FAIL(system->render(e)); });
}
