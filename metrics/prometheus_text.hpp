// Renders baton's metrics in the Prometheus text exposition format (version 0.0.4), checked
// by `promtool check metrics` in the tests. There is no prometheus-cpp in Debian, and the
// format is small: HELP and TYPE once per metric, then its samples.
#pragma once

#include <string>

#include "metrics/request_metrics.hpp"
#include "redis/link_counters.hpp"

namespace baton::metrics {

struct process_facts {
  std::string node_id;
  std::string version;
  double start_time_seconds = 0; ///< Unix time
  bool ready = false;
  bool draining = false;
};

std::string render_prometheus(const request_metrics& requests,
                              const redis_link::link_counters& link, const process_facts& facts);

/// Resident set size of this process in bytes, from /proc/self/statm (0 if unknown).
std::uint64_t resident_memory_bytes();

} // namespace baton::metrics
