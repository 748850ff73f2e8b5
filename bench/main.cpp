// baton_bench: the same work through batond and straight to Redis, in one run, side by side
// with the ratio (machines are noisy; ratios hold, absolute numbers do not).
//
//   baton_bench --baton SOCKET --redis SOCKET [--connections N] [--depth D] [--seconds S]
//               [--scenario ping|script|all]
//
// Scenarios:
//   ping    PING answered by batond itself vs PING answered by redis-server
//   script  DEBUG RTT (batond runs lua/time.lua by EVALSHA through its pipelined link) vs
//           the same EVALSHA sent straight to Redis by the same number of connections
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <string>

#include "actors/redis_link/embedded_scripts.hpp"
#include "bench/load_generator.hpp"
#include "protocol/resp_client.hpp"

using namespace baton::bench;

namespace {

void print_row(const load_result& r) {
  std::printf("  %-34s %10.0f ops/s   p50 %8.1f us   p99 %8.1f us   p999 %8.1f us   errors %zu\n",
              r.label.c_str(), r.rate(), r.percentile(0.50), r.percentile(0.99),
              r.percentile(0.999), r.errors);
}

void compare(const load_result& baton, const load_result& direct) {
  print_row(baton);
  print_row(direct);
  std::printf("  ratio baton/redis: throughput %.2fx, p50 %+.1f us\n\n",
              direct.rate() > 0 ? baton.rate() / direct.rate() : 0.0,
              baton.percentile(0.5) - direct.percentile(0.5));
}

} // namespace

int main(int argc, char** argv) {
  std::string baton_socket, redis_socket, scenario = "all";
  std::size_t connections = 64, depth = 1;
  double seconds = 3;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string flag = argv[i], value = argv[i + 1];
    if (flag == "--baton")
      baton_socket = value;
    else if (flag == "--redis")
      redis_socket = value;
    else if (flag == "--connections")
      connections = std::strtoul(value.c_str(), nullptr, 10);
    else if (flag == "--depth")
      depth = std::strtoul(value.c_str(), nullptr, 10);
    else if (flag == "--seconds")
      seconds = std::atof(value.c_str());
    else if (flag == "--scenario")
      scenario = value;
    else {
      std::cerr << "unknown flag " << flag << "\n";
      return 2;
    }
  }
  if (baton_socket.empty() || redis_socket.empty() || connections == 0 || depth == 0) {
    std::cerr << "usage: baton_bench --baton SOCKET --redis SOCKET [--connections N] [--depth D]"
                 " [--seconds S] [--scenario ping|script|all]\n";
    return 2;
  }
  auto duration = std::chrono::milliseconds(static_cast<long>(seconds * 1000));
  std::printf("baton_bench: %zu connections, pipeline depth %zu, %.1f s per measurement\n\n",
              connections, depth, seconds);
  try {
    if (scenario == "ping" || scenario == "all") {
      std::printf("PING\n");
      auto b = run_load({"batond PING", baton_socket, {"PING"}, {}, connections, depth, duration});
      auto r =
          run_load({"redis-server PING", redis_socket, {"PING"}, {}, connections, depth, duration});
      compare(b, r);
    }
    if (scenario == "script" || scenario == "all") {
      std::string body;
      for (const auto& s : baton::redis_link::embedded_scripts())
        if (s.name == "time") body = std::string(s.body);
      baton::protocol::resp_client loader(redis_socket);
      auto sha = loader.call({"SCRIPT", "LOAD", body}).str;
      std::printf("Lua script round trip (lua/time.lua)\n");
      auto b = run_load({"batond DEBUG RTT (EVALSHA via link)",
                         baton_socket,
                         {"DEBUG", "RTT"},
                         {},
                         connections,
                         depth,
                         duration});
      auto r = run_load({"redis-server EVALSHA",
                         redis_socket,
                         {"EVALSHA", sha, "0"},
                         {},
                         connections,
                         depth,
                         duration});
      compare(b, r);
    }
  } catch (const std::exception& e) {
    std::cerr << "baton_bench: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
