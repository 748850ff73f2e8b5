// The breakers section; see config_breakers.hpp. YAML is read for types here; whether the
// values make sense is breaker::policy_problems(), whose keys say which line to point at.
#include "daemon/config_breakers.hpp"

#include <climits>
#include <cmath>

namespace baton {
namespace {

using breaker::breaker_policy;

/// The keys of a policy; a named policy also has `name`.
std::set<std::string> policy_keys(bool named) {
  std::set<std::string> keys = {"window",           "failure_rate",  "slow_rate",
                                "slow_call_ms",     "minimum_calls", "open_ms",
                                "open_backoff",     "max_open_ms",   "half_open_probes",
                                "probe_timeout_ms", "scope",         "quorum"};
  if (named) keys.insert("name");
  return keys;
}

/// Counts are read whole; their bounds are policy_problems' to judge.
void read_count(checker& c, const YAML::Node& map, const char* key, int& out) {
  long long value = 0;
  if (c.read_int(map, key, INT_MIN, INT_MAX, value)) out = static_cast<int>(value);
}

void read_duration(checker& c, const YAML::Node& map, const char* key, milliseconds& out) {
  c.read_ms(map, key, LLONG_MIN, LLONG_MAX, out);
}

void read_window(checker& c, const YAML::Node& node, breaker_policy& p) {
  if (!c.expect_map(node, "a breaker window", {"calls", "seconds"})) return;
  bool by_calls = static_cast<bool>(node["calls"]);
  if (by_calls == static_cast<bool>(node["seconds"])) {
    c.problem(node.Mark(), "a breaker window needs exactly one of calls or seconds");
    return;
  }
  if (by_calls) {
    p.window = breaker::window_kind::count;
    read_count(c, node, "calls", p.window_calls);
  } else {
    p.window = breaker::window_kind::time;
    long long seconds = 0;
    if (c.read_int(node, "seconds", LLONG_MIN, LLONG_MAX, seconds))
      p.window_span = std::chrono::seconds(seconds);
  }
}

/// Reads the fields of a policy from `item` and reports what policy_problems finds in them,
/// each at the key it concerns. `label` names the policy in messages.
void read_policy(checker& c, const YAML::Node& item, breaker_policy& p, const std::string& label) {
  if (auto window = item["window"]) read_window(c, window, p);
  c.read_number(item, "failure_rate", p.failure_rate_threshold);
  c.read_number(item, "slow_rate", p.slow_rate_threshold);
  read_duration(c, item, "slow_call_ms", p.slow_call_duration);
  read_count(c, item, "minimum_calls", p.minimum_calls);
  read_duration(c, item, "open_ms", p.open_duration);
  c.read_number(item, "open_backoff", p.open_backoff);
  read_duration(c, item, "max_open_ms", p.max_open_duration);
  read_count(c, item, "half_open_probes", p.half_open_probes);
  read_duration(c, item, "probe_timeout_ms", p.probe_timeout);
  if (auto scope = item["scope"]) {
    std::string text = checker::text_of(scope);
    if (auto s = scope.IsScalar() ? breaker::parse_scope(text) : std::nullopt)
      p.scope = *s;
    else
      c.problem(scope.Mark(), label + ": scope must be local, fleet or quorum, got '" + text + "'");
  }
  if (auto quorum = item["quorum"]) {
    if (c.expect_map(quorum, "a breaker quorum", {"hosts", "fraction"})) {
      read_count(c, quorum, "hosts", p.quorum_hosts);
      c.read_number(quorum, "fraction", p.quorum_fraction);
    }
  }
  for (const auto& problem : breaker::policy_problems(p)) {
    auto at = item[problem.key];
    c.problem(at ? at.Mark() : item.Mark(), label + ": " + problem.message);
  }
}

void read_policies(checker& c, const YAML::Node& node, breaker::breakers_config& b) {
  if (!node.IsSequence()) {
    c.problem(node.Mark(), "breakers.policies must be a list");
    return;
  }
  for (const auto& item : node) {
    if (!c.expect_map(item, "a breaker policy", policy_keys(true))) continue;
    breaker_policy p;
    c.read_string(item, "name", p.name, true);
    if (!item["name"]) {
      c.problem(item.Mark(), "a breaker policy needs a name");
    } else if (!breaker::is_breaker_name(p.name)) {
      c.problem(item["name"].Mark(), "breaker name '" + p.name + "' must be 1 to " +
                                         std::to_string(breaker::max_name_length) +
                                         " letters, digits, '-', '_', '.', ':' or '/'");
    } else if (breaker::is_reserved_name(p.name)) {
      c.problem(item["name"].Mark(), "breaker name '" + p.name +
                                         "' is reserved: names starting with 'baton' are "
                                         "the daemon's own (baton:redis)");
    } else if (b.find(p.name)) {
      c.problem(item["name"].Mark(), "duplicate breaker '" + p.name + "'");
    }
    read_policy(c, item, p, "breaker '" + p.name + "'");
    b.policies.push_back(std::move(p));
  }
}

} // namespace

void read_breakers(checker& c, const YAML::Node& node, breaker::breakers_config& b) {
  if (!c.expect_map(node, "breakers", {"default", "policies"})) return;
  if (auto fallback = node["default"]) {
    if (c.expect_map(fallback, "breakers.default", policy_keys(false))) {
      breaker_policy p;
      read_policy(c, fallback, p, "breakers.default");
      b.default_policy = std::move(p);
    }
  }
  if (auto policies = node["policies"]) read_policies(c, policies, b);
}

} // namespace baton
