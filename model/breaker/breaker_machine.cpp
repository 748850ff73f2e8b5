// One breaker's state on one host; see breaker_machine.hpp.
#include "model/breaker/breaker_machine.hpp"

#include <algorithm>
#include <cmath>

namespace baton::breaker {

using std::chrono::milliseconds;

const char* state_name(breaker_state s) {
  switch (s) {
  case breaker_state::closed:
    return "closed";
  case breaker_state::open:
    return "open";
  case breaker_state::half_open:
    return "half-open";
  case breaker_state::forced_open:
    return "forced-open";
  case breaker_state::forced_closed:
    return "forced-closed";
  }
  return "?";
}

std::optional<breaker_state> parse_state(std::string_view text) {
  for (auto s : {breaker_state::closed, breaker_state::open, breaker_state::half_open,
                 breaker_state::forced_open, breaker_state::forced_closed})
    if (text == state_name(s)) return s;
  return std::nullopt;
}

std::optional<outcome> parse_outcome(std::string_view text) {
  if (text == "ok") return outcome::ok;
  if (text == "fail") return outcome::fail;
  if (text == "slow") return outcome::slow;
  return std::nullopt;
}

std::optional<force_mode> parse_force_mode(std::string_view text) {
  if (text == "open") return force_mode::open;
  if (text == "closed") return force_mode::closed;
  if (text == "auto") return force_mode::automatic;
  return std::nullopt;
}

const char* reason_name(transition_reason r) {
  switch (r) {
  case transition_reason::failure_rate:
    return "failure-rate";
  case transition_reason::slow_rate:
    return "slow-rate";
  case transition_reason::open_elapsed:
    return "open-elapsed";
  case transition_reason::probe_failed:
    return "probe-failed";
  case transition_reason::probes_passed:
    return "probes-passed";
  case transition_reason::forced:
    return "forced";
  case transition_reason::adopted:
    return "adopted";
  }
  return "?";
}

breaker_machine::breaker_machine(breaker_policy policy, std::string node)
    : policy_(std::move(policy)), node_(std::move(node)),
      window_(sliding_window::for_policy(policy_)),
      probe_deadlines_(static_cast<std::size_t>(std::max(policy_.half_open_probes, 1))) {}

check_result breaker_machine::check(clock::time_point now, bool may_probe) {
  check_result r;
  r.changed = advance(now);
  r.state = state_;
  switch (state_) {
  case breaker_state::closed:
  case breaker_state::forced_closed:
    r.allowed = true;
    break;
  case breaker_state::open:
    r.next_probe_at = open_until_;
    break;
  case breaker_state::forced_open:
    break;
  case breaker_state::half_open:
    // Probes that passed still take their place: half_open_probes in all, then it closes.
    if (may_probe && probes_out_ + probes_passed_ < policy_.half_open_probes) {
      auto slot = (oldest_probe_ + static_cast<std::size_t>(probes_out_)) % probe_deadlines_.size();
      probe_deadlines_[slot] = now + policy_.probe_timeout;
      ++probes_out_;
      r.allowed = r.probe = true;
    } else if (probes_out_ > 0) {
      r.next_probe_at = probe_deadlines_[oldest_probe_];
    }
    break;
  }
  return r;
}

std::optional<transition> breaker_machine::report(outcome result,
                                                  std::optional<milliseconds> latency,
                                                  clock::time_point now, bool was_probe) {
  bool failed = result == outcome::fail;
  bool slow = result == outcome::slow || (latency && *latency >= policy_.slow_call_duration);
  if (auto moved = advance(now)) {
    // Open -> half-open just now: no probe is out, so nothing awaits this report.
    ++counters_.ignored_reports;
    return moved;
  }
  switch (state_) {
  case breaker_state::closed: {
    window_.record({failed, slow}, now);
    auto t = window_.totals(now);
    if (t.calls < static_cast<std::uint64_t>(policy_.minimum_calls)) return std::nullopt;
    // Products, not rates: exact for whole counts, so 50 of 100 trips at 50%.
    auto calls = static_cast<double>(t.calls);
    if (100.0 * static_cast<double>(t.failures) >= policy_.failure_rate_threshold * calls)
      return trip(now, transition_reason::failure_rate);
    if (100.0 * static_cast<double>(t.slow) >= policy_.slow_rate_threshold * calls)
      return trip(now, transition_reason::slow_rate);
    return std::nullopt;
  }
  case breaker_state::half_open:
    if (!was_probe || probes_out_ == 0) break; // a call from before the trip, or given back
    oldest_probe_ = (oldest_probe_ + 1) % probe_deadlines_.size();
    --probes_out_;
    if (failed || slow) return trip(now, transition_reason::probe_failed);
    if (++probes_passed_ >= policy_.half_open_probes)
      return close(transition_reason::probes_passed);
    return std::nullopt;
  case breaker_state::open:
  case breaker_state::forced_open:
  case breaker_state::forced_closed:
    break;
  }
  ++counters_.ignored_reports;
  return std::nullopt;
}

std::optional<transition> breaker_machine::force(force_mode mode) {
  switch (mode) {
  case force_mode::open:
    if (state_ == breaker_state::forced_open) return std::nullopt;
    clear_probes();
    return enter(breaker_state::forced_open, transition_reason::forced);
  case force_mode::closed:
    if (state_ == breaker_state::forced_closed) return std::nullopt;
    clear_probes();
    return enter(breaker_state::forced_closed, transition_reason::forced);
  case force_mode::automatic:
    if (state_ != breaker_state::forced_open && state_ != breaker_state::forced_closed)
      return std::nullopt;
    return close(transition_reason::forced);
  }
  return std::nullopt;
}

std::optional<transition> breaker_machine::adopt(const shared_state& shared,
                                                 clock::time_point now) {
  if (!shared.resync && shared.generation <= generation_)
    return std::nullopt; // stale: ours is as new or newer
  auto generation = shared.resync ? std::max(generation_ + 1, shared.generation) : shared.generation;
  transition t{state_, shared.state, generation, transition_reason::adopted};
  state_ = shared.state;
  generation_ = generation;
  clear_probes();
  switch (shared.state) {
  case breaker_state::open:
    open_until_ = now + std::max(shared.open_remaining, milliseconds(0));
    tripped_by_ = shared.tripped_by;
    tripped_at_ = now; // our clock: when we learned of it
    consecutive_trips_ = std::max(shared.consecutive_trips, 1);
    break;
  case breaker_state::half_open:
    // Still the same run of trips (a probe grant does not say how many; keep what we know).
    consecutive_trips_ = std::max(shared.consecutive_trips, consecutive_trips_);
    break;
  case breaker_state::closed:
    window_.reset(); // the fleet's probes passed: start afresh, as a local close does
    consecutive_trips_ = 0;
    break;
  case breaker_state::forced_open:
  case breaker_state::forced_closed:
    break;
  }
  return t;
}

std::optional<transition> breaker_machine::advance(clock::time_point now) {
  if (state_ == breaker_state::open && now >= open_until_) {
    clear_probes();
    return enter(breaker_state::half_open, transition_reason::open_elapsed);
  }
  if (state_ == breaker_state::half_open) {
    while (probes_out_ > 0 && probe_deadlines_[oldest_probe_] <= now) {
      oldest_probe_ = (oldest_probe_ + 1) % probe_deadlines_.size();
      --probes_out_;
      ++counters_.probes_given_back;
    }
  }
  return std::nullopt;
}

shared_state breaker_machine::share(clock::time_point now) const {
  shared_state s;
  s.state = state_;
  s.generation = generation_;
  if (state_ == breaker_state::open && open_until_ > now)
    s.open_remaining = std::chrono::ceil<milliseconds>(open_until_ - now);
  s.tripped_by = tripped_by_;
  s.consecutive_trips = consecutive_trips_;
  return s;
}

transition breaker_machine::enter(breaker_state to, transition_reason why) {
  transition t{state_, to, ++generation_, why};
  state_ = to;
  return t;
}

transition breaker_machine::trip(clock::time_point now, transition_reason why) {
  ++consecutive_trips_;
  ++counters_.trips;
  open_until_ = now + open_time();
  tripped_by_ = node_;
  tripped_at_ = now;
  clear_probes();
  return enter(breaker_state::open, why);
}

transition breaker_machine::close(transition_reason why) {
  window_.reset();
  consecutive_trips_ = 0;
  clear_probes();
  return enter(breaker_state::closed, why);
}

breaker_machine::clock::duration breaker_machine::open_time() const {
  using double_ms = std::chrono::duration<double, std::milli>;
  double_ms base = policy_.open_duration;
  double_ms cap = std::max(policy_.max_open_duration, policy_.open_duration);
  // pow may overflow to infinity after many trips; min() then gives the cap.
  double_ms grown = base * std::pow(policy_.open_backoff, std::max(consecutive_trips_ - 1, 0));
  return std::chrono::duration_cast<clock::duration>(std::min(grown, cap));
}

void breaker_machine::clear_probes() {
  oldest_probe_ = 0;
  probes_out_ = 0;
  probes_passed_ = 0;
}

} // namespace baton::breaker
