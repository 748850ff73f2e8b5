// Access decisions by uid and group.
#include <catch2/catch.hpp>

#include "daemon/access_policy.hpp"

using namespace baton;

TEST_CASE("rules grant families by uid or group: others fall to the default") {
  access_config cfg;
  cfg.default_allow = false;
  cfg.rules.push_back({{1000}, {}, {"rate", "dedup"}, {}});
  cfg.rules.push_back({{}, {500}, {"*"}, {}});
  access_policy policy(cfg);
  peer_credentials app{1, 1000, 1000, {}};
  peer_credentials ops{2, 2000, 2000, {500}};
  peer_credentials stranger{3, 3000, 3000, {}};
  peer_credentials root{4, 0, 0, {}};
  CHECK(policy.allows(app, "rate"));
  CHECK_FALSE(policy.allows(app, "debug"));
  CHECK(policy.allows(ops, "debug"));
  CHECK_FALSE(policy.allows(stranger, "rate"));
  CHECK(policy.allows(stranger, "ping")); // connection commands are always open
  CHECK(policy.allows(root, "debug"));
  CHECK(policy.is_admin(root));
  CHECK_FALSE(policy.is_admin(ops));
}

TEST_CASE("a rule with names grants its families for those names only") {
  using protocol::naming;
  access_config cfg;
  cfg.default_allow = true; // a caller a rule names is judged by its rules, not the default
  cfg.rules.push_back({{1000}, {}, {"lease", "rate", "session"}, {"billing/*", "shared"}});
  cfg.rules.push_back({{1000}, {}, {"breaker"}, {}});
  access_policy policy(cfg);
  peer_credentials billing{1, 1000, 1000, {}};
  peer_credentials other{2, 2000, 2000, {}};
  CHECK(policy.allows(billing, "lease", naming::one, {"billing/nightly"}));
  CHECK(policy.allows(billing, "lease", naming::one, {"shared"}));
  CHECK_FALSE(policy.allows(billing, "lease", naming::one, {"shared2"})); // exact, not a prefix
  CHECK_FALSE(policy.allows(billing, "lease", naming::one, {"search/nightly"}));
  CHECK_FALSE(policy.allows(billing, "lease", naming::one, {"billing"}));
  // Every watched name must be granted.
  CHECK(policy.allows(billing, "lease", naming::rest, {"billing/a", "billing/b"}));
  CHECK_FALSE(policy.allows(billing, "lease", naming::rest, {"billing/a", "search/b"}));
  // A command that names nothing (LEASE LIST) would show other apps' names: not granted.
  CHECK_FALSE(policy.allows(billing, "lease", naming::nothing));
  // Sessions by id or token are guarded by their uid instead.
  CHECK(policy.allows(billing, "session", naming::owned));
  // A family granted without names is granted for every name.
  CHECK(policy.allows(billing, "breaker", naming::one, {"anything"}));
  CHECK(policy.allows(billing, "breaker", naming::nothing));
  CHECK_FALSE(policy.allows(billing, "dedup", naming::one, {"billing/x"}));
  // A caller no rule names falls to the default.
  CHECK(policy.allows(other, "lease", naming::one, {"billing/nightly"}));
}

TEST_CASE("what each command names, for the rules") {
  using namespace protocol;
  CHECK(names_of(command_id::lease_acquire).kind == naming::one);
  CHECK(names_of(command_id::lease_list).kind == naming::nothing);
  CHECK(names_of(command_id::lease_watch).kind == naming::rest);
  CHECK(names_of(command_id::session_get).kind == naming::owned);
  CHECK(names_of(command_id::node_drain).kind == naming::nothing);
  std::vector<std::string> args = {"LEASE", "WATCH", "a", "b"};
  CHECK(names_in(names_of(command_id::lease_watch), args) ==
        std::vector<std::string_view>{"a", "b"});
  CHECK(name_matches("billing/*", "billing/x"));
  CHECK(name_matches("billing/*", "billing/"));
  CHECK_FALSE(name_matches("billing/*", "billing"));
  CHECK(name_matches("exact", "exact"));
  CHECK_FALSE(name_matches("exact", "exact2"));
}

TEST_CASE("a caller whose groups the kernel would not give is refused, not judged as gid 0") {
  access_config cfg; // default allow
  cfg.admin_gids = {0};
  access_policy policy(cfg);
  peer_credentials unknown_groups{1, 1000, 0, {}};
  unknown_groups.groups_known = false;
  CHECK_FALSE(policy.allows(unknown_groups, "lease", protocol::naming::one, {"x"}));
  CHECK_FALSE(policy.is_admin(unknown_groups)); // gid 0 is not taken on trust
  CHECK(policy.allows(unknown_groups, "ping")); // connection commands stay open
  peer_credentials nobody;                      // SO_PEERCRED failed: uid and gid -1
  nobody.groups_known = false;
  CHECK_FALSE(policy.allows(nobody, "rate"));
}
