// An epoll load generator: N connections, each keeping `depth` requests in flight, one
// thread, so that the generator's own cost is the same whichever server it drives. Records
// every request's latency from send to reply.
#pragma once

#include <chrono>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

namespace baton::bench {

struct load_result {
  std::string label;
  double seconds = 0;
  std::size_t replies = 0;
  std::size_t errors = 0;
  std::vector<double> latencies_us; ///< sorted
  double rate() const { return seconds > 0 ? replies / seconds : 0; }
  double percentile(double p) const;
};

struct load_spec {
  std::string label;
  std::string socket_path;          ///< Unix socket of the server
  std::vector<std::string> command; ///< sent again and again
  std::vector<std::string> setup;   ///< sent once per connection first (e.g. SCRIPT LOAD)
  std::size_t connections = 64;
  std::size_t depth = 1; ///< requests in flight per connection
  std::chrono::milliseconds duration{3000};
  std::chrono::milliseconds warmup{500};
  /// For conversations (ACQUIRE, then RELEASE with the token it gave): when set, each
  /// connection's next request is next(connection index, the previous reply's raw bytes),
  /// and its first is next(index, ""). `command` is then unused.
  std::function<std::vector<std::string>(std::size_t, std::string_view)> next;
};

/// Runs the load; throws std::runtime_error if the server cannot be reached.
load_result run_load(const load_spec& spec);

} // namespace baton::bench
