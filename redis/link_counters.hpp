// Counters of the Redis link, read by /metrics and INFO. Atomics because the link runs on
// the I/O thread and the readers elsewhere; relaxed order, since they are only statistics.
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>

namespace baton::redis_link {

/// Upper bounds of the round-trip buckets, in seconds (baton_redis_round_trip_seconds).
inline constexpr std::array<double, 14> round_trip_buckets = {
    0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0};

struct link_counters {
  std::atomic<std::uint64_t> commands{0};        ///< commands sent to Redis
  std::atomic<std::uint64_t> round_trips{0};     ///< writes to Redis (a pipeline is one)
  std::atomic<std::uint64_t> errors{0};          ///< error replies from Redis
  std::atomic<std::uint64_t> unavailable{0};     ///< calls answered UNAVAILABLE
  std::atomic<std::uint64_t> timeouts{0};        ///< calls over their time budget
  std::atomic<std::uint64_t> breaker_rejects{0}; ///< calls refused while the breaker was open
  std::atomic<std::uint64_t> reconnects{0};      ///< connections (re)established
  std::atomic<std::uint64_t> connect_failures{0};
  std::atomic<std::uint64_t> script_reloads{0}; ///< NOSCRIPT answered by EVAL
  std::atomic<std::uint64_t> master_switches{0}; ///< Sentinel named another master
  std::atomic<std::uint64_t> failover_holds{0};  ///< failovers during which calls waited
  std::atomic<std::uint64_t> wrong_role{0};      ///< a server was not the master (ROLE, READONLY)
  std::atomic<std::uint64_t> waits{0};           ///< WAITs after durable writes
  std::atomic<std::uint64_t> waits_short{0};     ///< ... that fewer replicas acknowledged
  std::atomic<std::uint64_t> cluster_moved{0};   ///< MOVED redirects followed (Cluster)
  std::atomic<std::uint64_t> cluster_asked{0};   ///< ASK redirects followed (Cluster)
  std::atomic<std::uint64_t> cluster_retries{0}; ///< TRYAGAIN or CLUSTERDOWN, asked again
  std::atomic<std::uint64_t> cluster_maps{0};    ///< slot maps loaded that changed a route
  std::atomic<std::int64_t> cluster_primaries{0}; ///< primaries in the slot map now
  std::atomic<std::int64_t> connected{0};       ///< connections ready now
  std::atomic<int> breaker_state{0};            ///< 0 closed, 1 open, 2 half-open

  /// Each reply's round trip as baton sees it: from the call's queueing on a connection to
  /// its reply (not cumulative; the last bucket is +Inf), and their sum.
  std::array<std::atomic<std::uint64_t>, round_trip_buckets.size() + 1> round_trip_bucket{};
  std::atomic<std::uint64_t> round_trip_ns{0};

  static void add(std::atomic<std::uint64_t>& c, std::uint64_t n = 1) {
    c.fetch_add(n, std::memory_order_relaxed);
  }
  void observe_round_trip(std::chrono::nanoseconds took) {
    auto seconds = std::chrono::duration<double>(took).count();
    std::size_t b = 0;
    while (b < round_trip_buckets.size() && seconds > round_trip_buckets[b])
      ++b;
    add(round_trip_bucket[b]);
    add(round_trip_ns, static_cast<std::uint64_t>(took.count() > 0 ? took.count() : 0));
  }
};

} // namespace baton::redis_link
