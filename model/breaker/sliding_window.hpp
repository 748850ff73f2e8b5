// The calls a breaker judges: the last N calls (a ring, a byte per call) or the last N seconds
// (a ring of per-second buckets that expire as time moves). Both keep running totals, so a
// record is O(1) and memory is bounded by N. Time is always passed in, never read, so tests
// run on virtual time points.
#pragma once

#include <chrono>
#include <cstdint>
#include <vector>

#include "model/breaker/breaker_policy.hpp"

namespace baton::breaker {

/// One finished call. A call may be both failed and slow.
struct call_outcome {
  bool failed = false;
  bool slow = false;
};

struct window_totals {
  std::uint64_t calls = 0;
  std::uint64_t failures = 0;
  std::uint64_t slow = 0;

  /// Percentages, 0 without calls.
  double failure_rate() const { return calls == 0 ? 0.0 : 100.0 * failures / calls; }
  double slow_rate() const { return calls == 0 ? 0.0 : 100.0 * slow / calls; }
};

class sliding_window {
public:
  using clock = std::chrono::steady_clock;

  /// The last `calls` calls (at least 1).
  static sliding_window last_calls(int calls);
  /// The calls of the last `span` (at least 1 s), to the second.
  static sliding_window last_seconds(std::chrono::seconds span);
  /// The window `p` describes.
  static sliding_window for_policy(const breaker_policy& p);

  void record(call_outcome call, clock::time_point now);
  /// What the window holds at `now`; a time window first forgets the seconds that left it.
  window_totals totals(clock::time_point now);
  /// Forgets every call (a breaker that closes starts afresh).
  void reset();

private:
  /// One second of a time window; `second` says which, so a stale bucket is told apart from a
  /// current one without sweeping the ring.
  struct bucket {
    std::int64_t second = 0;
    std::uint32_t calls = 0;
    std::uint32_t failures = 0;
    std::uint32_t slow = 0;
  };
  static constexpr std::uint8_t failed_bit = 1;
  static constexpr std::uint8_t slow_bit = 2;

  sliding_window() = default;
  /// Moves a time window's newest second to `second`, subtracting the seconds that leave.
  void advance(std::int64_t second);
  bucket& bucket_at(std::int64_t second);
  void add(std::uint64_t calls, std::uint64_t failures, std::uint64_t slow);
  void subtract(std::uint64_t calls, std::uint64_t failures, std::uint64_t slow);

  window_kind kind_ = window_kind::count;
  window_totals totals_;
  // Count window: one byte per call (failed_bit | slow_bit), oldest at next_ once full.
  std::vector<std::uint8_t> calls_;
  std::size_t next_ = 0;
  std::size_t filled_ = 0;
  // Time window: buckets_[second % span]; newest_ is the latest second recorded or asked.
  std::vector<bucket> buckets_;
  std::int64_t newest_ = 0;
  bool started_ = false;
};

} // namespace baton::breaker
