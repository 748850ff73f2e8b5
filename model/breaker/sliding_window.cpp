// The window of a breaker's calls; see sliding_window.hpp.
#include "model/breaker/sliding_window.hpp"

#include <algorithm>

namespace baton::breaker {

sliding_window sliding_window::last_calls(int calls) {
  sliding_window w;
  w.kind_ = window_kind::count;
  w.calls_.assign(static_cast<std::size_t>(std::max(calls, 1)), 0);
  return w;
}

sliding_window sliding_window::last_seconds(std::chrono::seconds span) {
  sliding_window w;
  w.kind_ = window_kind::time;
  w.buckets_.assign(static_cast<std::size_t>(std::max<std::int64_t>(span.count(), 1)), bucket{});
  return w;
}

sliding_window sliding_window::for_policy(const breaker_policy& p) {
  return p.window == window_kind::count ? last_calls(p.window_calls) : last_seconds(p.window_span);
}

void sliding_window::record(call_outcome call, clock::time_point now) {
  std::uint64_t failed = call.failed ? 1 : 0;
  std::uint64_t slow = call.slow ? 1 : 0;
  if (kind_ == window_kind::count) {
    auto& slot = calls_[next_];
    if (filled_ == calls_.size()) // the oldest call leaves as this one enters
      subtract(1, (slot & failed_bit) ? 1 : 0, (slot & slow_bit) ? 1 : 0);
    else
      ++filled_;
    slot = static_cast<std::uint8_t>((call.failed ? failed_bit : 0) | (call.slow ? slow_bit : 0));
    next_ = (next_ + 1) % calls_.size();
  } else {
    auto second = std::chrono::floor<std::chrono::seconds>(now.time_since_epoch()).count();
    advance(second);
    // A time point older than the newest second (callers race on a steady clock) counts in
    // the newest bucket: close enough, and the ring never holds a second it cannot expire.
    auto& b = bucket_at(newest_);
    ++b.calls;
    b.failures += static_cast<std::uint32_t>(failed);
    b.slow += static_cast<std::uint32_t>(slow);
  }
  add(1, failed, slow);
}

window_totals sliding_window::totals(clock::time_point now) {
  if (kind_ == window_kind::time)
    advance(std::chrono::floor<std::chrono::seconds>(now.time_since_epoch()).count());
  return totals_;
}

void sliding_window::reset() {
  totals_ = {};
  std::fill(calls_.begin(), calls_.end(), 0);
  next_ = filled_ = 0;
  std::fill(buckets_.begin(), buckets_.end(), bucket{});
  started_ = false;
}

void sliding_window::advance(std::int64_t second) {
  auto span = static_cast<std::int64_t>(buckets_.size());
  if (!started_) {
    started_ = true;
    newest_ = second;
    bucket_at(second) = bucket{second, 0, 0, 0};
    return;
  }
  if (second <= newest_) return;
  if (second - newest_ >= span) {
    // Every second in the ring has left; the buckets are stale by their `second` and are
    // cleared as they are reused, so a long quiet spell costs O(1), not O(span).
    totals_ = {};
  } else {
    // Seconds newest_-span+1 .. second-span leave; a bucket counts only if it still holds
    // that second (it may be an older, already subtracted one).
    for (auto gone = newest_ - span + 1; gone <= second - span; ++gone) {
      const auto& b = bucket_at(gone);
      if (b.second == gone && b.calls > 0) subtract(b.calls, b.failures, b.slow);
    }
  }
  newest_ = second;
  bucket_at(second) = bucket{second, 0, 0, 0};
}

sliding_window::bucket& sliding_window::bucket_at(std::int64_t second) {
  auto span = static_cast<std::int64_t>(buckets_.size());
  return buckets_[static_cast<std::size_t>(((second % span) + span) % span)];
}

void sliding_window::add(std::uint64_t calls, std::uint64_t failures, std::uint64_t slow) {
  totals_.calls += calls;
  totals_.failures += failures;
  totals_.slow += slow;
}

void sliding_window::subtract(std::uint64_t calls, std::uint64_t failures, std::uint64_t slow) {
  totals_.calls -= calls;
  totals_.failures -= failures;
  totals_.slow -= slow;
}

} // namespace baton::breaker
