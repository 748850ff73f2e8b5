// Counters and latency histograms of local API requests, by family and result. The hot path
// (the I/O thread, and later the actors) only adds to relaxed atomics: no locks, no hops, no
// allocation. /metrics reads them when scraped. Families are fixed at start-up from the
// command table, so a client cannot grow the label set by sending made-up commands.
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "protocol/error_code.hpp"

namespace baton::metrics {

/// The result label: what kind of answer a request got: `ok`, or the error code of the
/// vocabulary (protocol/error_code.hpp), lower case (`ERR` is labelled `error`).
using result = std::size_t;
inline constexpr result result_ok = 0;
inline constexpr std::size_t result_count = 1 + protocol::all_error_codes.size();
std::string result_name(result r);
/// The result label of an error reply, from its code ("UNAVAILABLE ..."); a text that starts
/// with no code of the vocabulary counts as `error`.
result result_of_error(std::string_view error_text);

/// Upper bounds of the latency buckets, in seconds (Prometheus convention).
inline constexpr std::array<double, 14> latency_buckets = {
    0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0};

class request_metrics {
public:
  /// `families`: every family label; "unknown" is added for requests that match no command.
  explicit request_metrics(std::vector<std::string> families);

  /// Index of a family label, or of "unknown".
  std::size_t family_index(std::string_view family) const;
  const std::vector<std::string>& families() const { return families_; }

  void record(std::size_t family, result r, std::chrono::nanoseconds latency);

  std::uint64_t requests(std::size_t family, result r) const;
  std::uint64_t bucket(std::size_t family, std::size_t b) const; ///< not cumulative
  std::uint64_t observations(std::size_t family) const;
  double latency_sum_seconds(std::size_t family) const;

  // Connection-level counters and gauges.
  std::atomic<std::int64_t> connected_clients{0};
  std::atomic<std::uint64_t> accepted_clients{0};
  std::atomic<std::uint64_t> protocol_errors{0};
  std::atomic<std::uint64_t> rejected_clients{0};    ///< over max_clients or max_clients_per_uid
  std::atomic<std::uint64_t> slow_clients_closed{0}; ///< a request not finished in time
  std::atomic<std::uint64_t> idle_clients_closed{0};
  std::atomic<std::uint64_t> buffer_cap_closed{0};    ///< over socket.max_buffered_bytes
  std::atomic<std::int64_t> buffered_bytes{0};        ///< what all clients hold now
  std::atomic<std::uint64_t> pushes_sent{0};          ///< push events written to clients
  std::atomic<std::uint64_t> socket_accept_errors{0}; ///< accept() failed (EMFILE...)
  // The HTTP endpoint's connections.
  /// Shared: an HTTP session the reactor drops at exit may outlive these counters.
  std::shared_ptr<std::atomic<std::int64_t>> http_connections =
      std::make_shared<std::atomic<std::int64_t>>(0);
  std::atomic<std::uint64_t> http_rejected{0};    ///< over http.max_connections
  std::atomic<std::uint64_t> http_idle_closed{0}; ///< idle, closed for a new one at the cap
  std::atomic<std::uint64_t> http_accept_errors{0};

private:
  struct family_slot {
    std::array<std::atomic<std::uint64_t>, result_count> by_result{};
    std::array<std::atomic<std::uint64_t>, latency_buckets.size() + 1> buckets{};
    std::atomic<std::uint64_t> count{0};
    std::atomic<std::uint64_t> sum_ns{0};
  };
  std::vector<std::string> families_;
  std::unique_ptr<family_slot[]> slots_;
};

} // namespace baton::metrics
