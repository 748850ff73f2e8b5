// The breaker around Redis; see redis_breaker.hpp.
#include "redis/redis_breaker.hpp"

#include <algorithm>

namespace baton::redis_link {

bool redis_breaker::allow(clock::time_point now) {
  switch (state_) {
  case state::closed:
    return true;
  case state::open:
    if (now < retry_at_) return false;
    state_ = state::half_open;
    probe_in_flight_ = true;
    return true;
  case state::half_open:
    // One probe at a time; if it got lost (no answer at all), allow another after cooldown.
    if (probe_in_flight_ && now < retry_at_ + cooldown_) return false;
    probe_in_flight_ = true;
    retry_at_ = now;
    return true;
  }
  return false;
}

void redis_breaker::on_success() {
  failures_ = 0;
  probe_in_flight_ = false;
  cooldown_ = base_cooldown_;
  state_ = state::closed;
}

void redis_breaker::on_failure(clock::time_point now) {
  if (state_ == state::half_open) {
    cooldown_ = std::min(max_cooldown_, cooldown_ * 2);
    open(now);
    return;
  }
  if (state_ == state::closed && ++failures_ >= threshold_) open(now);
}

void redis_breaker::trip(clock::time_point now) {
  if (state_ != state::open) open(now);
}

void redis_breaker::open(clock::time_point now) {
  state_ = state::open;
  probe_in_flight_ = false;
  failures_ = 0;
  retry_at_ = now + cooldown_;
}

} // namespace baton::redis_link
