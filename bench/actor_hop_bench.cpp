// baton_actor_hop_bench: what a hop from the I/O thread into an actor and back costs, under
// CAF 0.17's two scheduler policies, next to a plain Asio hop to another thread and back
// (the floor), all in one run. This is the measurement behind runtime.scheduler's default:
// later families decide in actors, so every such request pays this hop.
//
//   baton_actor_hop_bench [--seconds S] [--in-flight N]
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <caf/all.hpp>

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

} // namespace

int main(int argc, char** argv) {
  double seconds = 2;
  std::size_t in_flight = 1;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string flag = argv[i];
    if (flag == "--seconds")
      seconds = std::atof(argv[i + 1]);
    else if (flag == "--in-flight")
      in_flight = std::strtoul(argv[i + 1], nullptr, 10);
    else {
      std::fprintf(stderr, "usage: baton_actor_hop_bench [--seconds S] [--in-flight N]\n");
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
  return 0;
}
