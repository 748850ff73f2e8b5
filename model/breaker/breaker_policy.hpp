// What a circuit breaker is configured with (breakers.policies, breakers.default): its window,
// the failure and slow-call rates that trip it, how long it stays open and how it probes, and
// whether a trip is this host's alone or the fleet's. Plain data with resilience4j's defaults,
// checked by policy_problems() so that the config and the request path share one set of rules.
#pragma once

#include <chrono>
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace baton::breaker {

using std::chrono::milliseconds;
using std::chrono::seconds;

/// Count-based: the last `window_calls` calls. Time-based: the calls of the last
/// `window_span`, in one bucket per second.
enum class window_kind { count, time };

/// local: a trip opens it on this host only. fleet: a trip on any host opens it everywhere.
/// quorum: it opens everywhere once enough hosts have tripped; one sick host stays open alone.
enum class scope { local, fleet, quorum };

const char* window_kind_name(window_kind kind);
const char* scope_name(scope s);
/// "local", "fleet" or "quorum"; nullopt for anything else.
std::optional<scope> parse_scope(std::string_view text);

/// One breaker's rules. The defaults are resilience4j's, but for one half-open probe: the
/// fleet leases probing to one host at a time, so one probe per half-open period is the point.
struct breaker_policy {
  std::string name; ///< empty for breakers.default

  window_kind window = window_kind::count;
  int window_calls = 100;                     ///< count window: the last this many calls
  seconds window_span{60};                    ///< time window: the calls of the last this long
  double failure_rate_threshold = 50.0;       ///< percent of calls failed that trips it
  double slow_rate_threshold = 100.0;         ///< percent of calls slow that trips it
  milliseconds slow_call_duration{60 * 1000}; ///< a call this long or longer is slow
  int minimum_calls = 100; ///< neither rate counts before the window holds this many calls

  milliseconds open_duration{60 * 1000};
  /// The open duration is multiplied by this on each trip since the last close (1: the same
  /// every time), up to max_open_duration.
  double open_backoff = 1.0;
  milliseconds max_open_duration{10 * 60 * 1000};
  int half_open_probes = 1; ///< successful probes that close it; one failed probe re-opens it
  /// A probe not reported within this long is given back, so that a lost client cannot keep
  /// the breaker half-open forever.
  milliseconds probe_timeout{10 * 1000};

  breaker::scope scope = breaker::scope::local;
  int quorum_hosts = 0;       ///< quorum: this many hosts tripped (0: unset)
  double quorum_fraction = 0; ///< quorum: this fraction of the live hosts tripped (0: unset)

  bool operator==(const breaker_policy& o) const;
  bool operator!=(const breaker_policy& o) const { return !(*this == o); }
};

// -- limits beyond which a setting is a mistake rather than a choice -------------------------

/// A count window is a byte per call; a time window a bucket per second.
constexpr int max_window_calls = 100000;
constexpr seconds max_window_span{3600};
constexpr int max_half_open_probes = 1000;
/// Longer than a day open or waiting is a forgotten breaker: FORCE open says so plainly.
constexpr milliseconds max_duration{24LL * 3600 * 1000};
constexpr double max_open_backoff = 100.0;

/// A mistake in a policy, with the config key it concerns (as written in YAML: "window",
/// "failure_rate", "quorum", ...) so that the config can point at its line.
struct policy_problem {
  std::string key;
  std::string message;
};

/// Every mistake in `p`, not only the first; empty when the policy is usable.
std::vector<policy_problem> policy_problems(const breaker_policy& p);

/// A breaker name is 1 to 128 letters, digits, '-', '_', '.', ':' or '/'.
constexpr std::size_t max_name_length = 128;
bool is_breaker_name(std::string_view name);
/// Names starting with "baton" belong to the daemon (its breaker around Redis is
/// "baton:redis"): shown read-only, never configured or reported to.
bool is_reserved_name(std::string_view name);

/// The `breakers:` section.
struct breakers_config {
  /// For names no policy lists; absent: such names are unknown and nothing is created.
  std::optional<breaker_policy> default_policy;
  std::vector<breaker_policy> policies;

  /// The policy named `name`, or nullptr.
  const breaker_policy* find(std::string_view name) const;
  /// The policy named `name`, else the default, else nullptr.
  const breaker_policy* policy_for(std::string_view name) const;

  bool operator==(const breakers_config& o) const {
    return default_policy == o.default_policy && policies == o.policies;
  }
  bool operator!=(const breakers_config& o) const { return !(*this == o); }
};

} // namespace baton::breaker
