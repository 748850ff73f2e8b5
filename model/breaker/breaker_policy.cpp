// A breaker policy's names and rules; see breaker_policy.hpp.
#include "model/breaker/breaker_policy.hpp"

#include <cctype>
#include <sstream>
#include <tuple>

namespace baton::breaker {
namespace {

/// A double as the config would show it: 50, 0.5, 1e+30 (not 50.000000).
std::string text(double value) {
  std::ostringstream out;
  out << value;
  return out.str();
}

std::string text(milliseconds value) {
  return std::to_string(value.count());
}

/// True for (0, 100]: a rate of 0 would trip a breaker whose calls all succeed, and NaN is
/// not in range either (every comparison with it is false).
bool is_percent(double value) {
  return value > 0 && value <= 100;
}

} // namespace

const char* window_kind_name(window_kind kind) {
  return kind == window_kind::count ? "count" : "time";
}

const char* scope_name(scope s) {
  switch (s) {
  case scope::local:
    return "local";
  case scope::fleet:
    return "fleet";
  case scope::quorum:
    return "quorum";
  }
  return "?";
}

std::optional<scope> parse_scope(std::string_view text) {
  if (text == "local") return scope::local;
  if (text == "fleet") return scope::fleet;
  if (text == "quorum") return scope::quorum;
  return std::nullopt;
}

bool breaker_policy::operator==(const breaker_policy& o) const {
  return std::tie(name, window, window_calls, window_span, failure_rate_threshold,
                  slow_rate_threshold, slow_call_duration, minimum_calls, open_duration,
                  open_backoff, max_open_duration, half_open_probes, probe_timeout, scope,
                  quorum_hosts, quorum_fraction) ==
         std::tie(o.name, o.window, o.window_calls, o.window_span, o.failure_rate_threshold,
                  o.slow_rate_threshold, o.slow_call_duration, o.minimum_calls, o.open_duration,
                  o.open_backoff, o.max_open_duration, o.half_open_probes, o.probe_timeout, o.scope,
                  o.quorum_hosts, o.quorum_fraction);
}

std::vector<policy_problem> policy_problems(const breaker_policy& p) {
  std::vector<policy_problem> out;
  auto add = [&out](const char* key, std::string message) {
    out.push_back({key, std::move(message)});
  };
  auto duration = [&add](const char* key, milliseconds value) {
    if (value.count() <= 0 || value > max_duration)
      add(key, std::string(key) + " must be between 1 and " + text(max_duration) + ", got " +
                   text(value));
  };

  if (p.window == window_kind::count) {
    if (p.window_calls < 1 || p.window_calls > max_window_calls)
      add("window", "window calls must be between 1 and " + std::to_string(max_window_calls) +
                        ", got " + std::to_string(p.window_calls));
    else if (p.minimum_calls > p.window_calls)
      // resilience4j quietly lowers it to the window; here the config says what it means.
      add("minimum_calls", "minimum_calls (" + std::to_string(p.minimum_calls) +
                               ") is more than the window's " + std::to_string(p.window_calls) +
                               " calls, so the breaker could never trip");
  } else if (p.window_span.count() < 1 || p.window_span > max_window_span) {
    add("window", "window seconds must be between 1 and " +
                      std::to_string(max_window_span.count()) + ", got " +
                      std::to_string(p.window_span.count()));
  }
  if (!is_percent(p.failure_rate_threshold))
    add("failure_rate", "failure_rate must be a percentage above 0 and at most 100, got " +
                            text(p.failure_rate_threshold));
  if (!is_percent(p.slow_rate_threshold))
    add("slow_rate", "slow_rate must be a percentage above 0 and at most 100, got " +
                         text(p.slow_rate_threshold));
  duration("slow_call_ms", p.slow_call_duration);
  if (p.minimum_calls < 1)
    add("minimum_calls",
        "minimum_calls must be at least 1, got " + std::to_string(p.minimum_calls));
  duration("open_ms", p.open_duration);
  if (!(p.open_backoff >= 1 && p.open_backoff <= max_open_backoff))
    add("open_backoff", "open_backoff must be between 1 (no backoff) and " +
                            text(max_open_backoff) + ", got " + text(p.open_backoff));
  duration("max_open_ms", p.max_open_duration);
  if (p.max_open_duration < p.open_duration)
    add("max_open_ms", "max_open_ms (" + text(p.max_open_duration) +
                           ") must not be shorter than open_ms (" + text(p.open_duration) + ")");
  if (p.half_open_probes < 1 || p.half_open_probes > max_half_open_probes)
    add("half_open_probes", "half_open_probes must be between 1 and " +
                                std::to_string(max_half_open_probes) + ", got " +
                                std::to_string(p.half_open_probes));
  duration("probe_timeout_ms", p.probe_timeout);

  bool has_hosts = p.quorum_hosts != 0;
  bool has_fraction = p.quorum_fraction != 0;
  if (p.scope == scope::quorum) {
    if (has_hosts == has_fraction)
      add("quorum", "a quorum breaker needs exactly one of quorum hosts or fraction");
    if (has_hosts && p.quorum_hosts < 1)
      add("quorum", "quorum hosts must be at least 1, got " + std::to_string(p.quorum_hosts));
    if (has_fraction && !(p.quorum_fraction > 0 && p.quorum_fraction <= 1))
      add("quorum",
          "quorum fraction must be above 0 and at most 1, got " + text(p.quorum_fraction));
  } else if (has_hosts || has_fraction) {
    add("quorum", std::string("a quorum is set but the scope is ") + scope_name(p.scope) +
                      " (set scope: quorum, or remove the quorum)");
  }
  return out;
}

bool is_breaker_name(std::string_view name) {
  if (name.empty() || name.size() > max_name_length) return false;
  for (char ch : name)
    if (!std::isalnum(static_cast<unsigned char>(ch)) && ch != '-' && ch != '_' && ch != '.' &&
        ch != ':' && ch != '/')
      return false;
  return true;
}

bool is_reserved_name(std::string_view name) {
  return name.substr(0, 5) == "baton";
}

const breaker_policy* breakers_config::find(std::string_view name) const {
  for (const auto& p : policies)
    if (p.name == name) return &p;
  return nullptr;
}

const breaker_policy* breakers_config::policy_for(std::string_view name) const {
  if (auto* named = find(name)) return named;
  return default_policy ? &*default_policy : nullptr;
}

} // namespace baton::breaker
