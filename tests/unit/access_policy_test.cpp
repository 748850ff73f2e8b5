// Access decisions by uid and group.
#include <catch2/catch.hpp>

#include "daemon/access_policy.hpp"

using namespace baton;

TEST_CASE("rules grant families by uid or group: others fall to the default") {
  access_config cfg;
  cfg.default_allow = false;
  cfg.rules.push_back({{1000}, {}, {"rate", "dedup"}});
  cfg.rules.push_back({{}, {500}, {"*"}});
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
