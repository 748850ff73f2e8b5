// The one timer an actor that sleeps until its next deadline needs. CAF 0.17 cannot cancel a
// delayed message, so each arming sends (timer_tick, generation) and only the tick of the
// latest generation counts; the others arrive, are recognised as stale and dropped. It only
// ever pulls the wake-up earlier: one entry changing must not cost a rescan of all of them.
#pragma once

#include <caf/actor_clock.hpp>

#include <cstdint>

#include "protocol/atoms.hpp"

namespace baton::actors {

class wake_timer {
public:
  using time_point = caf::actor_clock::time_point;

  /// Wakes `self` at `when` (or at once if that has passed) unless it will wake earlier.
  template <class Self>
  void wake_at(Self* self, time_point when) {
    if (armed_ && at_ <= when) return;
    armed_ = true;
    at_ = when;
    auto now = self->clock().now();
    auto delay = when > now ? when - now : time_point::duration::zero();
    self->delayed_send(self, delay, atoms::timer_tick::value, ++generation_);
  }

  /// True for the tick of the latest arming (which disarms the timer); false for a stale one.
  bool fired(std::uint64_t generation) {
    if (!armed_ || generation != generation_) return false;
    armed_ = false;
    return true;
  }

  /// Forgets the pending tick (it will arrive and be dropped as stale).
  void cancel() {
    armed_ = false;
    ++generation_;
  }

  bool armed() const { return armed_; }

private:
  bool armed_ = false;
  time_point at_{};
  std::uint64_t generation_ = 0;
};

} // namespace baton::actors
