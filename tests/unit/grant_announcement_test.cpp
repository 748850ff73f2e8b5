// Reading lua/lease_acquire.lua's grant announcements (model/lease/grant_announcement.hpp).
#include <catch2/catch.hpp>

#include "model/lease/grant_announcement.hpp"

using namespace baton;
using namespace baton::lease;

TEST_CASE("a grant announcement names the holder's token, ttl, node, uid and meta") {
  auto g = parse_grant_announcement("acquired 1796136986698430 5000 web-1 uid=1000 leader of a b");
  REQUIRE(g);
  CHECK(g->holder.token == 1796136986698430);
  CHECK(g->ttl.count() == 5000);
  CHECK(g->holder.node == "web-1");
  CHECK(g->holder.uid == 1000);
  CHECK(g->holder.meta == "leader of a b");
  auto unknown = parse_grant_announcement("acquired 7 10 web-1 uid=- ");
  REQUIRE(unknown);
  CHECK(unknown->holder.uid == caller::unknown_uid);
  CHECK(unknown->holder.meta.empty());
}

TEST_CASE("a grant announcement from a daemon that did not announce uids has no uid") {
  auto g = parse_grant_announcement("acquired 7 10 web-1 meta with spaces");
  REQUIRE(g);
  CHECK(g->holder.node == "web-1");
  CHECK(g->holder.uid == caller::unknown_uid);
  CHECK(g->holder.meta == "meta with spaces");
  auto bare = parse_grant_announcement("acquired 7 10 web-1");
  REQUIRE(bare);
  CHECK(bare->holder.node == "web-1");
  CHECK(bare->holder.meta.empty());
}

TEST_CASE("what is not a grant announcement is ignored") {
  for (auto text : {"", "acquired", "acquired x 10 n", "acquired 7 y n", "released 7 10 n",
                    "acquired 0 10 n", "acquired -5 10 n", "acquired 99999999999999999999 1 n"})
    CHECK_FALSE(parse_grant_announcement(text));
}
