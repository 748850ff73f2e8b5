// baton_bench: the same work through batond and straight to Redis, in one run, side by side
// with the ratio (machines are noisy; ratios hold, absolute numbers do not).
//
//   baton_bench --baton SOCKET --redis SOCKET [--connections N] [--depth D] [--seconds S]
//               [--rounds R] [--scenario ping|script|lease|rate|secret|state|cache|breaker|all]
//
// Scenarios:
//   ping    PING answered by batond itself vs PING answered by redis-server
//   lease   LEASE ACQUIRE + RELEASE pairs vs the same lease scripts by EVALSHA to Redis
//   script  DEBUG RTT (batond runs lua/time.lua by EVALSHA through its pipelined link) vs
//           the same EVALSHA sent straight to Redis by the same number of connections
//   rate    RATE CHECK of a 3-window gcra policy (every check admitted, so every one reaches
//           Redis) vs lua/rate_gcra.lua by EVALSHA to Redis with the same key and windows; and
//           refusals from batond's over-limit cache vs the same refusal computed by Redis.
//           batond must run with bench/bench.yaml's policies.
//   secret  SECRET GET and SECRET VERIFY (answered from batond's memory) vs batond's PING (the
//           same socket, parser and writer with no work) and vs GET of a plain key on Redis
//           (what an app that keeps its API key in Redis does). batond needs bench.yaml's KEK.
//   state   STATE GET through batond vs GET of a plain key on Redis (64 connections); STATE
//           MSET of 1,000 keys (one script call on a single Redis) vs Redis' own MSET of the same
//           1,000 plain keys, and vs lua/state_write.lua by EVALSHA straight to Redis (the
//           versioned write batond asks for), one connection each. batond needs bench.yaml's
//           `bench` namespace.
//   cache   CACHE GET answered from batond's near cache vs batond's PING (the same socket,
//           parser and writer with no work) and vs Redis' GET of the same value, 64
//           connections. batond needs bench.yaml's `bench` cache namespace.
//   breaker BREAKER CHECK (answered from memory) and BREAKER REPORT (counted in memory, sent
//           to Redis once a second) vs batond's PING. batond needs bench.yaml's breakers.
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <string>

#include "redis/embedded_scripts.hpp"
#include "redis/script_registry.hpp"
#include "bench/load_generator.hpp"
#include "protocol/resp_client.hpp"

using namespace baton::bench;

namespace {

void print_row(const load_result& r) {
  std::printf("  %-34s %10.0f ops/s   p50 %8.1f us   p99 %8.1f us   p999 %8.1f us   errors %zu\n",
              r.label.c_str(), r.rate(), r.percentile(0.50), r.percentile(0.99),
              r.percentile(0.999), r.errors);
}

// The n-th RESP integer (":123") in a raw reply.
std::int64_t nth_integer(std::string_view reply, int n) {
  for (std::size_t i = 0; i < reply.size(); ++i) {
    if (reply[i] == ':' && (i == 0 || reply[i - 1] == '\n') && n-- == 0)
      return std::atoll(std::string(reply.substr(i + 1, 24)).c_str());
  }
  return 0;
}

// Runs baton's load and the direct one in turns (alternating which goes first), `rounds`
// times, and prints each pair and the median ratio: on a noisy 2-core machine one pair can
// swing either way; the median of interleaved pairs is what we report. `baton_items` and
// `direct_items` are what one request of each side does (keys written), when they differ: the
// ratio is then of items per second.
void compare_rounds(const load_spec& baton, const load_spec& direct, std::size_t rounds,
                    double baton_items = 1, double direct_items = 1) {
  std::vector<double> ratios;
  for (std::size_t i = 0; i < rounds; ++i) {
    load_result b, r;
    if (i % 2 == 0) {
      b = run_load(baton);
      r = run_load(direct);
    } else {
      r = run_load(direct);
      b = run_load(baton);
    }
    print_row(b);
    print_row(r);
    double ratio =
        r.rate() > 0 ? b.rate() * baton_items / (r.rate() * direct_items) : 0.0;
    ratios.push_back(ratio);
    if (baton_items != direct_items)
      std::printf("  round %zu ratio baton/redis: %.2fx the items per second (%.0f vs %.0f)\n",
                  i + 1, ratio, b.rate() * baton_items, r.rate() * direct_items);
    else
      std::printf("  round %zu ratio baton/redis: throughput %.2fx, p50 %+.1f us\n", i + 1,
                  ratio, b.percentile(0.5) - r.percentile(0.5));
  }
  std::sort(ratios.begin(), ratios.end());
  std::printf("  median ratio baton/redis over %zu rounds: %.2fx (min %.2fx, max %.2fx)\n\n",
              rounds, ratios[ratios.size() / 2], ratios.front(), ratios.back());
}

} // namespace

int main(int argc, char** argv) {
  std::string baton_socket, redis_socket, scenario = "all";
  std::size_t connections = 64, depth = 1, rounds = 3;
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
    else if (flag == "--rounds")
      rounds = std::max<std::size_t>(1, std::strtoul(value.c_str(), nullptr, 10));
    else {
      std::cerr << "unknown flag " << flag << "\n";
      return 2;
    }
  }
  if (baton_socket.empty() || redis_socket.empty() || connections == 0 || depth == 0) {
    std::cerr << "usage: baton_bench --baton SOCKET --redis SOCKET [--connections N] [--depth D]"
                 " [--seconds S] [--rounds R] [--scenario ping|script|lease|rate|secret|state|cache|breaker|all]\n";
    return 2;
  }
  auto duration = std::chrono::milliseconds(static_cast<long>(seconds * 1000));
  std::printf("baton_bench: %zu connections, pipeline depth %zu, %.1f s per measurement\n\n",
              connections, depth, seconds);
  // What differs between measurements: label, server, and the command (or conversation).
  auto spec = [&](std::string label, const std::string& socket, std::vector<std::string> command,
                  std::size_t spec_depth = 0, decltype(load_spec::next) next = {}) {
    return load_spec{std::move(label),   socket,
                     std::move(command), {},
                     connections,        spec_depth == 0 ? depth : spec_depth,
                     duration,           std::chrono::milliseconds(500),
                     std::move(next)};
  };
  try {
    if (scenario == "ping" || scenario == "all") {
      std::printf("PING\n");
      compare_rounds(spec("batond PING", baton_socket, {"PING"}),
                     spec("redis-server PING", redis_socket, {"PING"}), rounds);
    }
    if (scenario == "script" || scenario == "all") {
      std::string body;
      for (const auto& s : baton::redis_link::embedded_scripts())
        if (s.name == "time") body = std::string(s.body);
      baton::protocol::resp_client loader(redis_socket);
      auto sha = loader.call({"SCRIPT", "LOAD", body}).str;
      std::printf("Lua script round trip (lua/time.lua)\n");
      compare_rounds(spec("batond DEBUG RTT (EVALSHA via link)", baton_socket, {"DEBUG", "RTT"}),
                     spec("redis-server EVALSHA", redis_socket, {"EVALSHA", sha, "0"}), rounds);
    }
    if (scenario == "lease" || scenario == "all") {
      // ACQUIRE then RELEASE with the token it gave, one lease name per connection, through
      // batond; and the same two scripts (lua/lease_acquire.lua, lease_release.lua) sent by
      // EVALSHA straight to Redis, with the same keys and arguments batond would send.
      baton::redis_link::script_registry scripts;
      baton::protocol::resp_client loader(redis_socket);
      for (auto name : {"lease_acquire", "lease_release"})
        loader.call({"SCRIPT", "LOAD", scripts.find(name)->body});
      auto acquire_sha = scripts.find("lease_acquire")->sha1;
      auto release_sha = scripts.find("lease_release")->sha1;
      std::printf("LEASE ACQUIRE + RELEASE pairs (one name per connection)\n");
      auto baton_next = [](std::size_t conn, std::string_view reply) -> std::vector<std::string> {
        auto name = "bench-" + std::to_string(conn);
        if (reply.empty() || reply[0] == '+' || reply[0] == '-')
          return {"LEASE", "ACQUIRE", name, "10000"};
        return {"LEASE", "RELEASE", name, std::to_string(nth_integer(reply, 0))};
      };
      auto redis_next = [&](std::size_t conn, std::string_view reply) -> std::vector<std::string> {
        auto key = "bench:lease:{direct-" + std::to_string(conn) + "}";
        auto owner = "bench/direct/" + std::to_string(conn);
        // A granted acquire is "*4 :1 :token ..."; anything else starts a new pair.
        if (reply.empty() || reply.rfind("*4\r\n:1\r\n", 0) != 0)
          return {"EVALSHA",
                  acquire_sha,
                  "2",
                  key,
                  key + ":fence",
                  owner,
                  "10000",
                  "direct",
                  "uid=0",
                  "",
                  "0",
                  "0",
                  "bench:lease-watch:{direct-" + std::to_string(conn) + "}"};
        return {"EVALSHA",
                release_sha,
                "1",
                key,
                owner,
                std::to_string(nth_integer(reply, 1)),
                "bench:lease-events",
                "direct"};
      };
      // One request in flight per connection: each waits for the reply it continues from.
      compare_rounds(spec("batond LEASE ACQUIRE/RELEASE", baton_socket, {}, 1, baton_next),
                     spec("redis-server EVALSHA lease scripts", redis_socket, {}, 1, redis_next),
                     rounds);
    }
    if (scenario == "rate" || scenario == "all") {
      baton::redis_link::script_registry scripts;
      baton::protocol::resp_client loader(redis_socket);
      loader.call({"SCRIPT", "LOAD", scripts.find("rate_gcra")->body});
      auto sha = scripts.find("rate_gcra")->sha1;
      baton::protocol::resp_client probe(baton_socket);
      auto answer = probe.call({"RATE", "PEEK", "bench-gcra", "probe"});
      if (answer.kind == baton::protocol::resp_value::type::error)
        throw std::runtime_error("batond answered '" + answer.str +
                                 "': start it with --config bench/bench.yaml");
      const std::vector<std::string> huge{"60000",      "1000000000", "3600000",
                                          "1000000000", "86400000",   "1000000000"};
      // One key per connection on both sides, as many users would be.
      auto baton_check = [](std::size_t conn, std::string_view) -> std::vector<std::string> {
        return {"RATE", "CHECK", "bench-gcra", "user-" + std::to_string(conn)};
      };
      auto redis_check = [&](std::size_t conn, std::string_view) {
        std::vector<std::string> args{
            "EVALSHA", sha,     "1", "bench:rate:direct:{user-" + std::to_string(conn) + "}",
            "1",       "charge"};
        args.insert(args.end(), huge.begin(), huge.end());
        return args;
      };
      std::printf("RATE CHECK, gcra with 3 windows, every check admitted (one key per "
                  "connection)\n");
      compare_rounds(spec("batond RATE CHECK", baton_socket, {}, 1, baton_check),
                     spec("redis-server EVALSHA rate_gcra", redis_socket, {}, 1, redis_check),
                     rounds);
      // The refused key: charged once up to its limit of 1, then refused on both sides.
      probe.call({"RATE", "CHECK", "bench-tight", "abuser"});
      std::vector<std::string> refused{"EVALSHA", sha,      "1",       "bench:rate:direct:{abuser}",
                                       "1",       "charge", "3600000", "1"};
      loader.call(refused);
      // RATE PEEK of the same key runs the same script through batond and never uses the
      // cache: the Redis-backed refusal.
      std::printf("RATE CHECK refusals: batond's over-limit cache vs the same refusal decided "
                  "by Redis through batond (RATE PEEK never uses the cache)\n");
      compare_rounds(spec("batond RATE CHECK (cached refusal)", baton_socket,
                          {"RATE", "CHECK", "bench-tight", "abuser"}),
                     spec("batond RATE PEEK (Redis refusal)", baton_socket,
                          {"RATE", "PEEK", "bench-tight", "abuser"}),
                     rounds);
      std::printf("RATE CHECK refusals: batond's over-limit cache vs Redis alone\n");
      compare_rounds(spec("batond RATE CHECK (cached refusal)", baton_socket,
                          {"RATE", "CHECK", "bench-tight", "abuser"}),
                     spec("redis-server EVALSHA (refusal)", redis_socket, refused), rounds);
    }
    if (scenario == "secret" || scenario == "all") {
      baton::protocol::resp_client probe(baton_socket);
      auto put = probe.call({"SECRET", "PUT", "bench-api-key", "sk_bench_0123456789abcdef"});
      if (put.kind == baton::protocol::resp_value::type::error)
        throw std::runtime_error("batond answered '" + put.str +
                                 "': start it with --config bench/bench.yaml and "
                                 "BATON_BENCH_KEK set");
      baton::protocol::resp_client(redis_socket)
          .call({"SET", "bench:plain-api-key", "sk_bench_0123456789abcdef"});
      std::printf("SECRET GET from batond's memory vs batond PING (no work) and Redis GET\n");
      compare_rounds(spec("batond SECRET GET", baton_socket, {"SECRET", "GET", "bench-api-key"}),
                     spec("batond PING", baton_socket, {"PING"}), rounds);
      compare_rounds(
          spec("batond SECRET GET", baton_socket, {"SECRET", "GET", "bench-api-key"}),
          spec("redis-server GET (plain key)", redis_socket, {"GET", "bench:plain-api-key"}),
          rounds);
      std::printf("SECRET VERIFY (a matching key) vs batond PING\n");
      compare_rounds(spec("batond SECRET VERIFY", baton_socket,
                          {"SECRET", "VERIFY", "bench-api-key", "sk_bench_0123456789abcdef"}),
                     spec("batond PING", baton_socket, {"PING"}), rounds);
    }
    if (scenario == "state" || scenario == "all") {
      baton::protocol::resp_client probe(baton_socket);
      const std::string value(100, 'v'); // a small JSON document's size
      auto set = probe.call({"STATE", "SET", "bench", "order-1", value});
      if (set.kind == baton::protocol::resp_value::type::error)
        throw std::runtime_error("batond answered '" + set.str +
                                 "': start it with --config bench/bench.yaml");
      baton::protocol::resp_client direct(redis_socket);
      direct.call({"SET", "bench:plain:order-1", value});
      std::printf("STATE GET (value, version, ttl) vs Redis GET of a plain key\n");
      compare_rounds(spec("batond STATE GET", baton_socket, {"STATE", "GET", "bench", "order-1"}),
                     spec("redis-server GET", redis_socket, {"GET", "bench:plain:order-1"}),
                     rounds);
      std::vector<std::string> mset{"STATE", "MSET", "bench"}, plain{"MSET"};
      std::vector<std::string> keys;
      std::vector<std::string> write_args{"", "0", "0", "bench-direct"};
      for (int i = 0; i < 1000; ++i) {
        auto key = "item-" + std::to_string(i);
        mset.insert(mset.end(), {key, value});
        plain.insert(plain.end(), {"bench:plain:" + key, value});
        keys.push_back("bench:state:direct:{" + key + "}");
        write_args.insert(write_args.end(), {value, "", "", ""});
      }
      baton::redis_link::script_registry scripts;
      direct.call({"SCRIPT", "LOAD", scripts.find("state_write")->body});
      std::vector<std::string> evalsha{"EVALSHA", scripts.find("state_write")->sha1, "1000"};
      evalsha.insert(evalsha.end(), keys.begin(), keys.end());
      evalsha.insert(evalsha.end(), write_args.begin(), write_args.end());
      // A new write id each time, as batond gives each request, so every call writes.
      std::size_t sequence = 0;
      auto direct_write = [&](std::size_t, std::string_view) {
        auto args = evalsha;
        args[3 + 1000 + 3] = "bench-direct-" + std::to_string(++sequence);
        return args;
      };
      auto one_connection = [&](load_spec s) {
        s.connections = 1;
        s.depth = 1;
        return s;
      };
      std::printf("STATE MSET of 1,000 keys (100-byte values) vs Redis MSET of 1,000 plain keys, "
                  "one connection\n");
      compare_rounds(one_connection(spec("batond STATE MSET x1000", baton_socket, mset)),
                     one_connection(spec("redis-server MSET x1000", redis_socket, plain)),
                     rounds);
      // What an app on a Cluster does without batond: one SET per key (a cross-slot MSET is
      // refused there), in turn on one connection.
      std::size_t next_key = 0;
      auto one_key = [&](std::size_t, std::string_view) -> std::vector<std::string> {
        return {"SET", "bench:plain:item-" + std::to_string(next_key++ % 1000), value};
      };
      std::printf("STATE MSET of 1,000 keys vs one SET per key straight to Redis (a Cluster "
                  "refuses a cross-slot MSET), one connection: keys per second\n");
      compare_rounds(one_connection(spec("batond STATE MSET x1000", baton_socket, mset)),
                     one_connection(spec("redis-server SET x1", redis_socket, {}, 1, one_key)),
                     rounds, 1000, 1);
      std::printf("STATE MSET of 1,000 keys vs the same versioned write (lua/state_write.lua) "
                  "by EVALSHA to Redis, one connection\n");
      compare_rounds(one_connection(spec("batond STATE MSET x1000", baton_socket, mset)),
                     one_connection(spec("redis-server EVALSHA state_write x1000", redis_socket,
                                         {}, 1, direct_write)),
                     rounds);
    }
    if (scenario == "cache" || scenario == "all") {
      baton::protocol::resp_client probe(baton_socket);
      const std::string value(100, 'c');
      auto set = probe.call({"CACHE", "SET", "bench", "user-1", value});
      if (set.kind == baton::protocol::resp_value::type::error)
        throw std::runtime_error("batond answered '" + set.str +
                                 "': start it with --config bench/bench.yaml");
      probe.call({"CACHE", "GET", "bench", "user-1"}); // now in the near cache
      baton::protocol::resp_client(redis_socket).call({"SET", "bench:plain:user-1", value});
      std::printf("CACHE GET from the near cache vs batond PING\n");
      compare_rounds(spec("batond CACHE GET (near hit)", baton_socket,
                          {"CACHE", "GET", "bench", "user-1"}),
                     spec("batond PING", baton_socket, {"PING"}), rounds);
      // The reply of a near hit is 183 bytes in RESP2 (a map of four), PONG's 7: ECHO of 174
      // bytes answers as many, so the client's cost of reading it falls on both sides.
      std::printf("CACHE GET from the near cache vs batond ECHO of a reply as long\n");
      compare_rounds(spec("batond CACHE GET (near hit)", baton_socket,
                          {"CACHE", "GET", "bench", "user-1"}),
                     spec("batond ECHO (183-byte reply)", baton_socket,
                          {"ECHO", std::string(174, 'e')}),
                     rounds);
      std::printf("CACHE GET from the near cache vs Redis GET of the same value\n");
      compare_rounds(spec("batond CACHE GET (near hit)", baton_socket,
                          {"CACHE", "GET", "bench", "user-1"}),
                     spec("redis-server GET", redis_socket, {"GET", "bench:plain:user-1"}),
                     rounds);
    }
    if (scenario == "breaker" || scenario == "all") {
      baton::protocol::resp_client probe(baton_socket);
      auto check = probe.call({"BREAKER", "CHECK", "bench-breaker"});
      if (check.kind == baton::protocol::resp_value::type::error)
        throw std::runtime_error("batond answered '" + check.str +
                                 "': start it with --config bench/bench.yaml");
      std::printf("BREAKER CHECK (from memory) vs batond PING\n");
      compare_rounds(spec("batond BREAKER CHECK", baton_socket, {"BREAKER", "CHECK", "bench-breaker"}),
                     spec("batond PING", baton_socket, {"PING"}), rounds);
      // The same bytes back without the breaker: ECHO of a payload as long as CHECK's reply,
      // so that what the client spends reading a longer reply is on both sides.
      std::string sized(check.to_string().size(), 'x');
      std::printf("BREAKER CHECK vs batond ECHO of a reply as long (the breaker's own cost)\n");
      compare_rounds(spec("batond BREAKER CHECK", baton_socket, {"BREAKER", "CHECK", "bench-breaker"}),
                     spec("batond ECHO (same reply size)", baton_socket, {"ECHO", sized}), rounds);
      std::printf("BREAKER REPORT ok with a latency (counted in memory) vs batond PING\n");
      compare_rounds(spec("batond BREAKER REPORT", baton_socket,
                          {"BREAKER", "REPORT", "bench-breaker", "ok", "12"}),
                     spec("batond PING", baton_socket, {"PING"}), rounds);
    }
  } catch (const std::exception& e) {
    std::cerr << "baton_bench: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
