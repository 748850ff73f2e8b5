// A circuit breaker around Redis itself, so that a dead Redis costs microseconds instead of a
// time budget per call. Closed: calls pass. After `threshold` consecutive failures (or when
// every connection is down): open, calls are refused at once. After the cooldown: half-open,
// one call goes through as a probe; its success closes the breaker, its failure re-opens it
// with a doubled cooldown (capped).
#pragma once

#include <chrono>
#include <cstddef>

namespace baton::redis_link {

class redis_breaker {
public:
  using clock = std::chrono::steady_clock;
  enum class state { closed = 0, open = 1, half_open = 2 };

  redis_breaker(std::size_t threshold, clock::duration cooldown, clock::duration max_cooldown)
      : threshold_(threshold), base_cooldown_(cooldown), max_cooldown_(max_cooldown),
        cooldown_(cooldown) {}

  /// May a call go to Redis now? In half-open state, true once per probe.
  bool allow(clock::time_point now);
  void on_success();
  void on_failure(clock::time_point now);
  /// Opens at once (every connection is down).
  void trip(clock::time_point now);

  state current() const { return state_; }

private:
  void open(clock::time_point now);

  std::size_t threshold_;
  clock::duration base_cooldown_;
  clock::duration max_cooldown_;
  clock::duration cooldown_;
  state state_ = state::closed;
  std::size_t failures_ = 0;
  clock::time_point retry_at_{};
  bool probe_in_flight_ = false;
};

} // namespace baton::redis_link
