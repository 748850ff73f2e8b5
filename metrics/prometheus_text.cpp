// Prometheus text rendering; see prometheus_text.hpp.
#include "metrics/prometheus_text.hpp"

#include "metrics/exposition.hpp"

#include <unistd.h>

#include <cstdio>
#include <fstream>

namespace baton::metrics {
namespace {

std::string bucket_bound(double seconds) {
  char buffer[32];
  std::snprintf(buffer, sizeof(buffer), "%g", seconds);
  return buffer;
}

} // namespace

std::uint64_t resident_memory_bytes() {
  std::ifstream statm("/proc/self/statm");
  std::uint64_t size = 0, resident = 0;
  if (!(statm >> size >> resident)) return 0;
  return resident * static_cast<std::uint64_t>(sysconf(_SC_PAGESIZE));
}

std::string render_prometheus(const request_metrics& requests,
                              const redis_link::link_counters& link, const process_facts& facts) {
  std::string out;
  out.reserve(16 * 1024);
  exposition e(out);
  const auto& families = requests.families();

  e.declare("baton_build_info", "gauge", "Build and node facts; the value is always 1.");
  e.sample("baton_build_info{version=\"" + escape_label(facts.version) + "\",node=\"" +
               escape_label(facts.node_id) + "\"}",
           std::uint64_t{1});

  e.declare("baton_requests_total", "counter", "Local API requests by command family and result.");
  for (std::size_t f = 0; f < families.size(); ++f)
    for (result r = 0; r < result_count; ++r) {
      auto n = requests.requests(f, r);
      if (n == 0 && r != 0)
        continue; // keep the exposition short: every family shows ok, other results once seen
      e.sample("baton_requests_total{family=\"" + families[f] + "\",result=\"" + result_name(r) +
                   "\"}",
               n);
    }

  e.declare("baton_request_duration_seconds", "histogram",
            "Time from a request's arrival to its reply being queued, by family.");
  for (std::size_t f = 0; f < families.size(); ++f) {
    std::string prefix =
        "baton_request_duration_seconds_bucket{family=\"" + families[f] + "\",le=\"";
    std::uint64_t cumulative = 0;
    for (std::size_t b = 0; b < latency_buckets.size(); ++b) {
      cumulative += requests.bucket(f, b);
      e.sample(prefix + bucket_bound(latency_buckets[b]) + "\"}", cumulative);
    }
    cumulative += requests.bucket(f, latency_buckets.size());
    e.sample(prefix + "+Inf\"}", cumulative);
    e.sample("baton_request_duration_seconds_sum{family=\"" + families[f] + "\"}",
             requests.latency_sum_seconds(f));
    e.sample("baton_request_duration_seconds_count{family=\"" + families[f] + "\"}", cumulative);
  }

  auto counter = [&](const char* name, const char* help, std::uint64_t value) {
    e.declare(name, "counter", help);
    e.sample(name, value);
  };
  auto gauge = [&](const char* name, const char* help, double value) {
    e.declare(name, "gauge", help);
    e.sample(name, value);
  };
  auto load = [](const std::atomic<std::uint64_t>& a) { return a.load(std::memory_order_relaxed); };

  gauge("baton_connected_clients", "Local API connections open now.",
        static_cast<double>(requests.connected_clients.load()));
  counter("baton_accepted_clients_total", "Local API connections accepted.",
          load(requests.accepted_clients));
  counter("baton_rejected_clients_total",
          "Local API connections refused over max_clients or max_clients_per_uid.",
          load(requests.rejected_clients));
  counter("baton_slow_clients_closed_total",
          "Connections closed for a request not finished within socket.request_timeout_ms.",
          load(requests.slow_clients_closed));
  counter("baton_idle_clients_closed_total",
          "Connections closed after socket.idle_timeout_ms without a request.",
          load(requests.idle_clients_closed));
  gauge("baton_buffered_bytes",
        "Partial requests and unsent replies and pushes of all local clients, in bytes.",
        static_cast<double>(requests.buffered_bytes.load()));
  counter("baton_buffer_cap_closed_total",
          "Connections closed because all clients' buffers passed socket.max_buffered_bytes.",
          load(requests.buffer_cap_closed));
  counter("baton_pushes_total", "Push events sent to local clients (WATCH, lost leases).",
          load(requests.pushes_sent));
  e.declare("baton_accept_errors_total", "counter",
            "accept() failures (EMFILE, ENFILE...), after each of which the listener backs off.");
  e.sample("baton_accept_errors_total{listener=\"socket\"}", load(requests.socket_accept_errors));
  e.sample("baton_accept_errors_total{listener=\"http\"}", load(requests.http_accept_errors));
  gauge("baton_http_connections", "HTTP connections open now.",
        static_cast<double>(requests.http_connections->load()));
  counter("baton_http_rejected_connections_total",
          "HTTP connections closed at once over http.max_connections.",
          load(requests.http_rejected));
  counter("baton_http_idle_closed_total",
          "Idle keep-alive HTTP connections closed to make room for a new one at the cap.",
          load(requests.http_idle_closed));
  counter("baton_protocol_errors_total", "Connections closed for malformed or oversized requests.",
          load(requests.protocol_errors));

  counter("baton_redis_commands_total", "Commands sent to Redis.", load(link.commands));
  counter("baton_redis_round_trips_total", "Writes to Redis; a pipelined batch counts once.",
          load(link.round_trips));
  counter("baton_redis_errors_total", "Error replies from Redis.", load(link.errors));
  counter("baton_redis_unavailable_total", "Calls answered UNAVAILABLE by the link.",
          load(link.unavailable));
  counter("baton_redis_timeouts_total", "Calls that ran out of their time budget.",
          load(link.timeouts));
  counter("baton_redis_breaker_rejections_total", "Calls refused at once by the open breaker.",
          load(link.breaker_rejects));
  counter("baton_redis_reconnects_total", "Redis connections established (first ones included).",
          load(link.reconnects));
  counter("baton_redis_connect_failures_total", "Failed attempts to connect to Redis.",
          load(link.connect_failures));
  counter("baton_redis_script_reloads_total", "Scripts sent again after NOSCRIPT.",
          load(link.script_reloads));
  counter("baton_redis_master_switches_total",
          "Times Sentinel named another master and the link moved there.",
          load(link.master_switches));
  counter("baton_redis_failover_holds_total",
          "Sentinel failovers during which calls waited for the new master.",
          load(link.failover_holds));
  counter("baton_redis_wrong_role_total",
          "Servers found not to be the master (ROLE at connect, or a READONLY reply).",
          load(link.wrong_role));
  counter("baton_redis_waits_total", "WAITs sent after durable writes (redis.wait_replicas).",
          load(link.waits));
  counter("baton_redis_waits_short_total",
          "Durable writes answered with fewer replicas than redis.wait_replicas.",
          load(link.waits_short));
  counter("baton_redis_cluster_moved_total",
          "MOVED redirects followed on a Redis Cluster (a slot served elsewhere).",
          load(link.cluster_moved));
  counter("baton_redis_cluster_asked_total",
          "ASK redirects followed on a Redis Cluster (a slot being migrated).",
          load(link.cluster_asked));
  counter("baton_redis_cluster_retries_total",
          "Calls asked again after TRYAGAIN or CLUSTERDOWN on a Redis Cluster.",
          load(link.cluster_retries));
  counter("baton_redis_cluster_map_changes_total",
          "Slot maps loaded from a Redis Cluster that changed where a slot goes.",
          load(link.cluster_maps));
  gauge("baton_redis_cluster_primaries", "Primaries in the Redis Cluster slot map (0: no Cluster).",
        static_cast<double>(link.cluster_primaries.load()));
  gauge("baton_redis_connections_ready", "Redis connections ready now.",
        static_cast<double>(link.connected.load()));
  gauge("baton_redis_breaker_state", "Breaker around Redis: 0 closed, 1 open, 2 half-open.",
        static_cast<double>(link.breaker_state.load()));

  e.declare("baton_redis_round_trip_seconds", "histogram",
            "Time from a call's queueing on a Redis connection to its reply, per reply.");
  {
    std::uint64_t cumulative = 0;
    for (std::size_t b = 0; b < redis_link::round_trip_buckets.size(); ++b) {
      cumulative += load(link.round_trip_bucket[b]);
      e.sample("baton_redis_round_trip_seconds_bucket{le=\"" +
                   bucket_bound(redis_link::round_trip_buckets[b]) + "\"}",
               cumulative);
    }
    cumulative += load(link.round_trip_bucket[redis_link::round_trip_buckets.size()]);
    e.sample("baton_redis_round_trip_seconds_bucket{le=\"+Inf\"}", cumulative);
    e.sample("baton_redis_round_trip_seconds_sum",
             static_cast<double>(load(link.round_trip_ns)) / 1e9);
    e.sample("baton_redis_round_trip_seconds_count", cumulative);
  }

  gauge("baton_ready", "1 when /readyz answers 200 (Redis reachable, not draining).",
        facts.ready ? 1.0 : 0.0);
  gauge("baton_draining", "1 while the node drains.", facts.draining ? 1.0 : 0.0);
  gauge("process_start_time_seconds", "Start time of the process since the Unix epoch.",
        facts.start_time_seconds);
  gauge("process_resident_memory_bytes", "Resident memory size in bytes.",
        static_cast<double>(resident_memory_bytes()));
  return out;
}

} // namespace baton::metrics
