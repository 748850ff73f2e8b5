// One circuit breaker as this host sees it: whether a call may go now, what a finished call
// does to the window, when it trips, probes and closes. Pure and single-threaded, with time
// passed in: the request path asks check() (a few comparisons, no allocation) and the fleet
// layer publishes the transitions it returns and adopt()s the ones other hosts decided.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "model/breaker/breaker_policy.hpp"
#include "model/breaker/sliding_window.hpp"

namespace baton::breaker {

enum class breaker_state : std::uint8_t { closed, open, half_open, forced_open, forced_closed };

/// "closed", "open", "half-open", "forced-open", "forced-closed".
const char* state_name(breaker_state s);
std::optional<breaker_state> parse_state(std::string_view text);

/// BREAKER REPORT's word. slow: it worked, but too slowly.
enum class outcome { ok, fail, slow };
std::optional<outcome> parse_outcome(std::string_view text);

/// BREAKER FORCE's word: open, closed, or auto (back to deciding, from a fresh closed state).
enum class force_mode { open, closed, automatic };
std::optional<force_mode> parse_force_mode(std::string_view text);

enum class transition_reason {
  failure_rate,  ///< closed -> open
  slow_rate,     ///< closed -> open
  open_elapsed,  ///< open -> half-open
  probe_failed,  ///< half-open -> open (a failed or slow probe)
  probes_passed, ///< half-open -> closed
  forced,        ///< FORCE open|closed|auto
  adopted,       ///< a newer state from the fleet
};
const char* reason_name(transition_reason r);

/// A change of state, for the caller to publish, log and count. Every one carries a new
/// generation; after adopt() `from` may equal `to` (the same state, decided elsewhere).
struct transition {
  breaker_state from = breaker_state::closed;
  breaker_state to = breaker_state::closed;
  std::int64_t generation = 0;
  transition_reason reason = transition_reason::forced;
};

struct check_result {
  bool allowed = false;
  breaker_state state = breaker_state::closed;
  bool probe = false; ///< allowed as a half-open probe: report its outcome
  /// open: when it turns half-open; half-open and full: when an unreported probe is given
  /// back. None when nothing is scheduled (closed, forced, or another host holds the probe).
  std::optional<std::chrono::steady_clock::time_point> next_probe_at;
  std::optional<transition> changed; ///< the check itself moved it (open -> half-open)
};

/// A state decided elsewhere in the fleet. Steady clocks differ between hosts, so the open
/// time travels as what is left of it.
struct shared_state {
  breaker_state state = breaker_state::closed;
  std::int64_t generation = 0;
  std::chrono::milliseconds open_remaining{0}; ///< open: until half-open
  std::string tripped_by;                      ///< the node whose trip opened it
  int consecutive_trips = 0;                   ///< so that backoff continues fleet-wide
  /// Redis' state as read after this host learned it was wrong (its settle was refused, a
  /// probe found the breaker closed): applied even if not newer, with the next generation
  /// here, so that generations still never go back.
  bool resync = false;
};

/// What a report or probe did not count for, and how often it tripped (for STATE and metrics).
struct breaker_counters {
  std::uint64_t trips = 0;             ///< closed or half-open -> open
  std::uint64_t ignored_reports = 0;   ///< while open or forced, or a probe nobody awaited
  std::uint64_t probes_given_back = 0; ///< not reported within probe_timeout
};

class breaker_machine {
public:
  using clock = std::chrono::steady_clock;

  /// `node` is this host's id, recorded as `tripped_by` when this host trips it.
  breaker_machine(breaker_policy policy, std::string node);

  // -- the request path ------------------------------------------------------------------

  /// May a call go now? Closed and forced-closed: yes. Open and forced-open: no. Half-open:
  /// only as a probe, while fewer than half_open_probes are out or have passed and this host
  /// may probe (`may_probe`: the fleet layer says whether it holds the fleet's probe lease).
  check_result check(clock::time_point now, bool may_probe = true);

  /// A finished call. `latency` at or over slow_call_duration makes it slow. Closed: it feeds
  /// the window and may trip. Half-open: with `was_probe` and a probe out, it is that probe's
  /// result (the oldest out); a failed or slow probe re-opens it, enough good ones close it.
  /// Otherwise (open, forced, or a report nobody awaits) it is counted and ignored.
  std::optional<transition> report(outcome result, std::optional<std::chrono::milliseconds> latency,
                                   clock::time_point now, bool was_probe = true);

  /// FORCE open|closed pins the state until FORCE auto, which starts afresh from closed (an
  /// empty window, no backoff). Reports meanwhile are ignored, as in resilience4j. Nullopt if
  /// the state already is what was asked.
  std::optional<transition> force(force_mode mode);

  /// Applies a state decided elsewhere if its generation is newer than this machine's; a
  /// stale one changes nothing and returns nullopt.
  std::optional<transition> adopt(const shared_state& shared, clock::time_point now);

  /// Time-driven moves alone: open -> half-open once the open time has passed, and timed-out
  /// probes given back. check() does this itself; STATE and timers call it.
  std::optional<transition> advance(clock::time_point now);

  // -- for STATE and publishing ----------------------------------------------------------

  const breaker_policy& policy() const { return policy_; }
  breaker_state state() const { return state_; }
  std::int64_t generation() const { return generation_; }
  /// When an open breaker turns half-open (meaningful while open).
  clock::time_point open_until() const { return open_until_; }
  const std::string& tripped_by() const { return tripped_by_; }
  /// When it last opened, on this host's clock (or adopted); nullopt if it never has.
  std::optional<clock::time_point> tripped_at() const { return tripped_at_; }
  /// Trips since it last closed; the next open lasts open_duration * backoff^this, capped.
  int consecutive_trips() const { return consecutive_trips_; }
  int probes_out() const { return probes_out_; }
  int probes_passed() const { return probes_passed_; }
  const breaker_counters& counters() const { return counters_; }
  /// This host's window at `now`.
  window_totals totals(clock::time_point now) { return window_.totals(now); }
  /// What other hosts need to apply this host's state (open_remaining measured at `now`).
  shared_state share(clock::time_point now) const;

private:
  /// Enters `to` with the next generation.
  transition enter(breaker_state to, transition_reason why);
  transition trip(clock::time_point now, transition_reason why);
  transition close(transition_reason why);
  /// How long the next open lasts, with consecutive_trips_ already counting it.
  clock::duration open_time() const;
  void clear_probes();

  breaker_policy policy_;
  std::string node_;
  sliding_window window_;
  breaker_state state_ = breaker_state::closed;
  std::int64_t generation_ = 0;
  clock::time_point open_until_{};
  std::string tripped_by_;
  std::optional<clock::time_point> tripped_at_;
  int consecutive_trips_ = 0;
  // Half-open: deadlines of the probes out, oldest first, in a ring sized half_open_probes
  // at construction so that check() never allocates.
  std::vector<clock::time_point> probe_deadlines_;
  std::size_t oldest_probe_ = 0;
  int probes_out_ = 0;
  int probes_passed_ = 0;
  breaker_counters counters_;
};

} // namespace baton::breaker
