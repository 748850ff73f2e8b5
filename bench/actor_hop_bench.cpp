// baton_actor_hop_bench: what a hop from the I/O thread into an actor and back costs, under
// CAF 0.17's two scheduler policies, next to a plain Asio hop to another thread and back
// (the floor), all in one run. This is the measurement behind keeping the request path on the
// reactor and runtime.scheduler's default.
//
// With --redis URL it also measures the actors' own path to Redis: a script call from an
// actor through the link actor (actor -> link -> I/O thread -> Redis -> link -> actor), next to
// the same call made by the reactor straight on the pool (the floor of that path).
//
//   baton_actor_hop_bench [--seconds S] [--in-flight N] [--redis unix:///path/redis.sock]
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <caf/all.hpp>

#include "actors/redis_link/redis_link_actor.hpp"
#include "redis/redis_endpoint.hpp"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

namespace {

using clock_type = std::chrono::steady_clock;
using hop_atom = caf::atom_constant<caf::atom("hop")>;

struct hop_result {
  std::string label;
  double rate = 0;
  std::vector<double> micros; // sorted
  double percentile(double p) const {
    if (micros.empty()) return 0;
    auto i = static_cast<std::size_t>(p * static_cast<double>(micros.size() - 1));
    return micros[i];
  }
};

// Drives `in_flight` concurrent round trips from the I/O thread for `seconds`. `send(done)`
// starts one round trip that must call `done` on the I/O thread.
hop_result measure(const std::string& label, boost::asio::io_context& io, double seconds,
                   std::size_t in_flight, const std::function<void(std::function<void()>)>& send) {
  hop_result result;
  result.label = label;
  std::size_t completed = 0, outstanding = 0;
  auto stop_at = clock_type::now() + std::chrono::milliseconds(static_cast<long>(seconds * 1000));
  auto start = clock_type::now();
  // Round trips are away on other threads most of the time: keep run() from returning.
  auto work = boost::asio::make_work_guard(io);
  std::function<void()> launch = [&] {
    auto sent = clock_type::now();
    ++outstanding;
    send([&, sent] {
      auto now = clock_type::now();
      result.micros.push_back(std::chrono::duration<double, std::micro>(now - sent).count());
      ++completed;
      --outstanding;
      if (now < stop_at)
        launch();
      else if (outstanding == 0)
        work.reset();
    });
  };
  boost::asio::post(io, [&] {
    for (std::size_t i = 0; i < in_flight; ++i)
      launch();
  });
  io.restart();
  io.run(); // returns once the last round trip is back
  result.rate = completed / std::chrono::duration<double>(clock_type::now() - start).count();
  std::sort(result.micros.begin(), result.micros.end());
  return result;
}

void print(const hop_result& r, const hop_result& floor) {
  std::printf("  %-36s %10.0f hops/s   p50 %7.1f us   p99 %8.1f us   p50 vs floor %+7.1f us\n",
              r.label.c_str(), r.rate, r.percentile(0.5), r.percentile(0.99),
              r.percentile(0.5) - floor.percentile(0.5));
}

hop_result actor_hops(const char* policy, double seconds, std::size_t in_flight) {
  caf::actor_system_config config;
  config.set("scheduler.policy",
             std::string(policy) == "sharing" ? caf::atom("sharing") : caf::atom("stealing"));
  config.set("scheduler.max-threads", std::size_t{2});
  caf::actor_system system(config);
  boost::asio::io_context io(1);
  // Callbacks stay on the I/O thread, keyed by id; only the id crosses into the actor, which
  // answers by posting back onto the I/O thread, as baton's actors do.
  std::unordered_map<std::uint64_t, std::function<void()>> pending;
  std::uint64_t next_id = 0;
  auto complete = [&pending](std::uint64_t id) {
    auto it = pending.find(id);
    auto f = std::move(it->second);
    pending.erase(it);
    f();
  };
  auto echo = system.spawn([&io, &complete]() -> caf::behavior {
    return {[&io, &complete](hop_atom, std::uint64_t id) {
      boost::asio::post(io, [&complete, id] { complete(id); });
    }};
  });
  auto r = measure(std::string("actor hop, scheduler.policy=") + policy, io, seconds, in_flight,
                   [&](std::function<void()> done) {
                     auto id = ++next_id;
                     pending.emplace(id, std::move(done));
                     caf::anon_send(echo, hop_atom::value, id);
                   });
  caf::anon_send_exit(echo, caf::exit_reason::user_shutdown);
  return r;
}

// -- the actors' path to Redis ----------------------------------------------------------

struct running_link {
  boost::asio::io_context io{1};
  baton::redis_link::link_counters counters;
  std::unique_ptr<baton::redis_link::redis_pool> pool;
};

// A pool on `link.io`, connected (false if Redis did not answer within 5 s).
bool connect(running_link& link, const std::string& url) {
  baton::redis_link::link_settings settings;
  std::string error;
  auto endpoint = baton::redis_link::parse_redis_url(url, error);
  if (!endpoint) {
    std::fprintf(stderr, "--redis: %s\n", error.c_str());
    return false;
  }
  settings.endpoint = *endpoint;
  settings.call_timeout = std::chrono::milliseconds(5000);
  link.pool = std::make_unique<baton::redis_link::redis_pool>(link.io, settings, link.counters);
  link.pool->start();
  auto deadline = clock_type::now() + std::chrono::seconds(5);
  while (!link.pool->status().reachable() && clock_type::now() < deadline)
    link.io.run_for(std::chrono::milliseconds(10));
  return link.pool->status().reachable();
}

// lua/time.lua from the reactor, straight on the pool: the floor of any path to Redis.
hop_result pool_calls(running_link& link, double seconds, std::size_t in_flight) {
  return measure("script from the reactor, on the pool", link.io, seconds, in_flight,
                 [&](std::function<void()> done) {
                   link.pool->run_script("time", {}, {}, [done = std::move(done)](
                                                              baton::redis_link::redis_reply) {
                     done();
                   });
                 });
}

// lua/time.lua from an actor through the link actor, timed inside the actor world.
hop_result link_actor_calls(running_link& link, double seconds, std::size_t in_flight) {
  using namespace baton;
  auto work = boost::asio::make_work_guard(link.io);
  std::thread io_thread([&] { link.io.run(); });
  caf::actor_system_config config;
  config.set("scheduler.policy", caf::atom("sharing"));
  config.set("scheduler.max-threads", std::size_t{2});
  hop_result result;
  result.label = "script from an actor, via the link actor";
  {
    caf::actor_system system(config);
    auto link_actor = redis_link::spawn_redis_link_actor(system, *link.pool, link.io);
    auto stop_at = clock_type::now() + std::chrono::milliseconds(static_cast<long>(seconds * 1000));
    auto start = clock_type::now();
    caf::scoped_actor waiter{system};
    auto driver = system.spawn([&, stop_at](caf::event_based_actor* self) {
      auto outstanding = std::make_shared<std::size_t>(0);
      auto launch = std::make_shared<std::function<void()>>();
      *launch = [=, &result] {
        auto sent = clock_type::now();
        ++*outstanding;
        self->request(link_actor, std::chrono::seconds(10), atoms::redis_script::value,
                      redis_link::script_call{"time", {}, {}, 0})
            .then(
                [=, &result](redis_link::redis_reply&) {
                  auto now = clock_type::now();
                  result.micros.push_back(
                      std::chrono::duration<double, std::micro>(now - sent).count());
                  --*outstanding;
                  if (now < stop_at)
                    (*launch)();
                  else if (*outstanding == 0)
                    self->quit();
                },
                [=](caf::error&) { self->quit(); });
      };
      for (std::size_t i = 0; i < in_flight; ++i)
        (*launch)();
    });
    waiter->wait_for(driver);
    result.rate = result.micros.size() / std::chrono::duration<double>(clock_type::now() - start).count();
    caf::anon_send_exit(link_actor, caf::exit_reason::user_shutdown);
  }
  work.reset();
  boost::asio::post(link.io, [&] { link.pool->stop(); link.io.stop(); });
  io_thread.join();
  std::sort(result.micros.begin(), result.micros.end());
  return result;
}

} // namespace

int main(int argc, char** argv) {
  double seconds = 2;
  std::size_t in_flight = 1;
  std::string redis_url;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string flag = argv[i];
    if (flag == "--seconds")
      seconds = std::atof(argv[i + 1]);
    else if (flag == "--in-flight")
      in_flight = std::strtoul(argv[i + 1], nullptr, 10);
    else if (flag == "--redis")
      redis_url = argv[i + 1];
    else {
      std::fprintf(stderr, "usage: baton_actor_hop_bench [--seconds S] [--in-flight N] "
                           "[--redis URL]\n");
      return 2;
    }
  }
  if (in_flight == 0 || seconds <= 0) return 2;
  std::printf("baton_actor_hop_bench: %zu round trip(s) in flight, %.1f s each\n", in_flight,
              seconds);

  // The floor: hop to another thread's io_context and back, no actors.
  boost::asio::io_context io(1), other(1);
  auto work = boost::asio::make_work_guard(other);
  std::thread other_thread([&] { other.run(); });
  auto floor = measure("asio hop to a thread and back (floor)", io, seconds, in_flight,
                       [&](std::function<void()> done) {
                         boost::asio::post(other, [&io, done = std::move(done)]() mutable {
                           boost::asio::post(io, std::move(done));
                         });
                       });
  work.reset();
  other_thread.join();

  auto sharing = actor_hops("sharing", seconds, in_flight);
  auto stealing = actor_hops("stealing", seconds, in_flight);
  print(floor, floor);
  print(sharing, floor);
  print(stealing, floor);
  std::printf("  ratio sharing/stealing: throughput %.2fx, p50 %.2fx\n",
              stealing.rate > 0 ? sharing.rate / stealing.rate : 0.0,
              stealing.percentile(0.5) > 0 ? sharing.percentile(0.5) / stealing.percentile(0.5)
                                           : 0.0);
  if (redis_url.empty()) return 0;

  running_link link;
  if (!connect(link, redis_url)) {
    std::fprintf(stderr, "cannot reach redis at %s\n", redis_url.c_str());
    return 1;
  }
  auto direct = pool_calls(link, seconds, in_flight);
  auto via_actor = link_actor_calls(link, seconds, in_flight);
  std::printf("the actors' path to Redis (lua/time.lua):\n");
  print(direct, direct);
  print(via_actor, direct);
  std::printf("  the link actor's hops add %.1f us at p50 (%.2fx the reactor's call)\n",
              via_actor.percentile(0.5) - direct.percentile(0.5),
              direct.percentile(0.5) > 0 ? via_actor.percentile(0.5) / direct.percentile(0.5)
                                         : 0.0);
  return 0;
}
