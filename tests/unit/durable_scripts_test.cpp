// The durable scripts (followed by WAIT) name scripts that exist: a typo would drop the WAIT
// silently.
#include <catch2/catch.hpp>

#include "redis/durable_scripts.hpp"
#include "redis/script_registry.hpp"

using namespace baton::redis_link;

TEST_CASE("every durable script exists, and only those are marked durable") {
  script_registry scripts;
  std::size_t durable = 0;
  for (const auto& [name, s] : scripts.all()) {
    CHECK(s.durable == is_durable_script(name));
    durable += s.durable ? 1 : 0;
  }
  CHECK(durable == 16); // the list in redis/durable_scripts.hpp
  for (const char* name :
       {"lease_acquire", "session_open", "session_close", "secret_promote", "dedup_done"}) {
    const auto* s = scripts.find(name);
    REQUIRE(s != nullptr);
    CHECK(s->durable);
  }
  CHECK_FALSE(scripts.find("lease_renew")->durable);
  CHECK_FALSE(scripts.find("rate_gcra")->durable);
}
