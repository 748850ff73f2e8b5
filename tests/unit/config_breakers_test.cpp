// The breakers section: a default policy and named ones read with every field, nothing
// created when there is no default, every mistake reported at its file:line:column (all at
// once), the name rules, and the example config documenting the section without setting it.
#include <catch2/catch.hpp>

#include "daemon/config_loader.hpp"
#include "tests/support/config_problems.hpp"

using namespace baton;
using namespace std::chrono_literals;

using baton::test::dump;
using baton::test::has_problem;

TEST_CASE("the breakers section is read: a default policy and named ones with every field") {
  auto r =
      load_config_text("breakers:\n"
                       "  default: {window: {seconds: 30}, minimum_calls: 20}\n"
                       "  policies:\n"
                       "    - name: payments-api\n"
                       "      window: {calls: 50}\n"
                       "      failure_rate: 25.5\n"
                       "      slow_rate: 80\n"
                       "      slow_call_ms: 2000\n"
                       "      minimum_calls: 40\n"
                       "      open_ms: 5000\n"
                       "      open_backoff: 2\n"
                       "      max_open_ms: 60000\n"
                       "      half_open_probes: 3\n"
                       "      probe_timeout_ms: 1500\n"
                       "      scope: quorum\n"
                       "      quorum: {hosts: 2}\n"
                       "    - {name: \"db:orders/v2\", scope: quorum, quorum: {fraction: 0.5}}\n"
                       "    - {name: search, scope: fleet}\n",
                       "b.yaml");
  INFO(dump(r));
  REQUIRE(r.ok());
  const auto& b = r.cfg.breakers;
  REQUIRE(b.default_policy);
  CHECK(b.default_policy->window == breaker::window_kind::time);
  CHECK(b.default_policy->window_span == 30s);
  CHECK(b.default_policy->minimum_calls == 20);
  CHECK(b.default_policy->failure_rate_threshold == 50.0);
  REQUIRE(b.policies.size() == 3);
  const auto* p = b.find("payments-api");
  REQUIRE(p);
  CHECK(p->window == breaker::window_kind::count);
  CHECK(p->window_calls == 50);
  CHECK(p->failure_rate_threshold == 25.5);
  CHECK(p->slow_rate_threshold == 80.0);
  CHECK(p->slow_call_duration == 2s);
  CHECK(p->minimum_calls == 40);
  CHECK(p->open_duration == 5s);
  CHECK(p->open_backoff == 2.0);
  CHECK(p->max_open_duration == 60s);
  CHECK(p->half_open_probes == 3);
  CHECK(p->probe_timeout == 1500ms);
  CHECK(p->scope == breaker::scope::quorum);
  CHECK(p->quorum_hosts == 2);
  CHECK(p->quorum_fraction == 0.0);
  REQUIRE(b.find("db:orders/v2"));
  CHECK(b.find("db:orders/v2")->quorum_fraction == 0.5);
  CHECK(b.find("search")->scope == breaker::scope::fleet);
  CHECK(b.policy_for("search") == b.find("search"));
  CHECK(b.policy_for("anything-else") == &*b.default_policy);
}

TEST_CASE("without a default policy no breaker is created on first use") {
  auto none = load_config_text("", "empty.yaml");
  REQUIRE(none.ok());
  CHECK_FALSE(none.cfg.breakers.default_policy);
  CHECK(none.cfg.breakers.policy_for("x") == nullptr);

  auto named = load_config_text("breakers: {policies: [{name: x}]}\n", "n.yaml");
  REQUIRE(named.ok());
  CHECK_FALSE(named.cfg.breakers.default_policy);
  REQUIRE(named.cfg.breakers.policy_for("x"));
  CHECK(named.cfg.breakers.policy_for("y") == nullptr);
  breaker::breaker_policy defaults;
  defaults.name = "x";
  CHECK(*named.cfg.breakers.find("x") == defaults); // every field at its default

  auto empty_default = load_config_text("breakers: {default: {}}\n", "d.yaml");
  REQUIRE(empty_default.ok());
  REQUIRE(empty_default.cfg.breakers.default_policy);
  CHECK(*empty_default.cfg.breakers.default_policy == breaker::breaker_policy{});
}

TEST_CASE("every breaker policy problem is reported at its line and column, all at once") {
  auto r = load_config_text(
      "breakers:\n"
      "  default:\n"
      "    failure_rate: 150\n"
      "    name: x\n"
      "  colour: red\n"
      "  policies:\n"
      "    - {name: \"bad name\", slow_rate: 0}\n"
      "    - {name: baton:mine}\n"
      "    - {name: dup}\n"
      "    - {name: dup, window: {calls: 0}}\n"
      "    - {name: w2, window: {calls: 1, seconds: 1}}\n"
      "    - {name: w3, window: {seconds: 0}}\n"
      "    - {name: w4, window: {calls: 20}}\n"
      "    - {name: m, minimum_calls: 0, open_ms: 0, open_backoff: 0.5}\n"
      "    - {name: o, open_ms: 60000, max_open_ms: 1000}\n"
      "    - {name: h, half_open_probes: 0, probe_timeout_ms: 0, slow_call_ms: -1}\n"
      "    - {name: q1, scope: quorum}\n"
      "    - {name: q2, scope: quorum, quorum: {hosts: 2, fraction: 0.5}}\n"
      "    - {name: q3, scope: quorum, quorum: {fraction: 1.5}}\n"
      "    - {name: q4, scope: fleet, quorum: {hosts: 2}}\n"
      "    - {name: s, scope: global, failure_rate: high, slow_rate: .inf}\n"
      "    - {failure_rate: 50}\n"
      "    - {name: k, window: {calls: 10, minutes: 1}, color: blue, minimum_calls: 10}\n",
      "bad.yaml");
  INFO(dump(r));
  CHECK_FALSE(r.ok());
  const char* expected[] = {
      "bad.yaml:3:19: breakers.default: failure_rate must be a percentage above 0 and at most "
      "100, got 150",
      "bad.yaml:4:5: unknown key 'name' in breakers.default",
      "bad.yaml:5:3: unknown key 'colour' in breakers",
      "bad.yaml:7:14: breaker name 'bad name' must be 1 to 128 letters, digits",
      "bad.yaml:7:37: breaker 'bad name': slow_rate must be a percentage above 0 and at most "
      "100, got 0",
      "bad.yaml:8:14: breaker name 'baton:mine' is reserved",
      "bad.yaml:10:14: duplicate breaker 'dup'",
      "bad.yaml:10:27: breaker 'dup': window calls must be between 1 and 100000, got 0",
      "bad.yaml:11:26: a breaker window needs exactly one of calls or seconds",
      "bad.yaml:12:26: breaker 'w3': window seconds must be between 1 and 3600, got 0",
      "bad.yaml:13:7: breaker 'w4': minimum_calls (100) is more than the window's 20 calls",
      "bad.yaml:14:32: breaker 'm': minimum_calls must be at least 1, got 0",
      "bad.yaml:14:44: breaker 'm': open_ms must be between 1 and 86400000, got 0",
      "bad.yaml:14:61: breaker 'm': open_backoff must be between 1 (no backoff) and 100, got 0.5",
      "bad.yaml:15:46: breaker 'o': max_open_ms (1000) must not be shorter than open_ms (60000)",
      "bad.yaml:16:35: breaker 'h': half_open_probes must be between 1 and 1000, got 0",
      "bad.yaml:16:56: breaker 'h': probe_timeout_ms must be between 1 and 86400000, got 0",
      "bad.yaml:16:73: breaker 'h': slow_call_ms must be between 1 and 86400000, got -1",
      "bad.yaml:17:7: breaker 'q1': a quorum breaker needs exactly one of quorum hosts or "
      "fraction",
      "bad.yaml:18:41: breaker 'q2': a quorum breaker needs exactly one of quorum hosts or "
      "fraction",
      "bad.yaml:19:41: breaker 'q3': quorum fraction must be above 0 and at most 1, got 1.5",
      "bad.yaml:20:40: breaker 'q4': a quorum is set but the scope is fleet",
      "bad.yaml:21:24: breaker 's': scope must be local, fleet or quorum, got 'global'",
      "bad.yaml:21:46: failure_rate must be a number, got 'high'",
      "bad.yaml:21:63: slow_rate must be a number, got '.inf'",
      "bad.yaml:22:7: a breaker policy needs a name",
      "bad.yaml:23:37: unknown key 'minutes' in a breaker window",
      "bad.yaml:23:50: unknown key 'color' in a breaker policy",
  };
  for (const char* text : expected) {
    INFO(text);
    CHECK(has_problem(r, text));
  }
  CHECK(r.problems.size() == std::size(expected)); // each once, nothing else
}

TEST_CASE("the default policy is valid and every mistake of a policy is named") {
  CHECK(breaker::policy_problems(breaker::breaker_policy{}).empty());
  breaker::breaker_policy p;
  p.window = breaker::window_kind::time;
  p.window_span = 4000s;
  p.failure_rate_threshold = std::nan("");
  p.open_backoff = 1000;
  p.max_open_duration = 48h;
  p.half_open_probes = 1001;
  p.scope = breaker::scope::quorum;
  p.quorum_hosts = -1;
  std::vector<std::string> keys;
  for (const auto& problem : breaker::policy_problems(p))
    keys.push_back(problem.key);
  CHECK(keys == std::vector<std::string>{"window", "failure_rate", "open_backoff", "max_open_ms",
                                         "half_open_probes", "quorum"});
}

TEST_CASE("breaker names: 1 to 128 of a small alphabet, and baton's own are reserved") {
  CHECK(breaker::is_breaker_name("payments-api_v2.eu:orders/write"));
  CHECK(breaker::is_breaker_name(std::string(128, 'a')));
  CHECK_FALSE(breaker::is_breaker_name(std::string(129, 'a')));
  CHECK_FALSE(breaker::is_breaker_name(""));
  CHECK_FALSE(breaker::is_breaker_name("a b"));
  CHECK_FALSE(breaker::is_breaker_name("a*"));
  CHECK(breaker::is_reserved_name("baton:redis"));
  CHECK(breaker::is_reserved_name("baton"));
  CHECK_FALSE(breaker::is_reserved_name("my-baton"));
  CHECK(breaker::parse_scope("quorum") == breaker::scope::quorum);
  CHECK_FALSE(breaker::parse_scope("global"));
  CHECK(std::string(breaker::scope_name(breaker::scope::fleet)) == "fleet");
}

TEST_CASE("the example config documents the breakers section and changes no default") {
  auto r = load_config_file(std::string(BATON_SOURCE_DIR) + "/deploy/baton.example.yaml");
  INFO(dump(r));
  REQUIRE(r.ok());
  CHECK(r.cfg.breakers == breaker::breakers_config{});
}
