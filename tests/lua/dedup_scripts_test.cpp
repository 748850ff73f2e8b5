// lua/dedup_*.lua on a real redis-server: the first claim wins, later ones see pending or
// the stored result, only the owner completes or releases, and every key has a TTL.
#include <catch2/catch.hpp>

#include "tests/support/script_runner.hpp"
#include "tests/support/test_redis.hpp"

using namespace baton;
using protocol::resp_value;

namespace {

const std::string key = "baton:dedup:{order-1}";

struct dedup_fixture {
  test::test_redis redis;
  test::script_runner lua{redis.socket_path()};

  resp_value claim(const std::string& owner, const std::string& ttl = "5000") {
    return lua.run("dedup_claim", {key}, {owner, ttl});
  }
  resp_value done(const std::string& owner, const std::string& result,
                  const std::string& ttl = "60000") {
    return lua.run("dedup_done", {key}, {owner, result, ttl});
  }
};

std::string status(const resp_value& r) {
  return r.elements.at(0).str;
}

} // namespace

TEST_CASE_METHOD(dedup_fixture, "the first claim is new, later ones pending, then done") {
  auto first = claim("a:1:1");
  CHECK(status(first) == "new");
  CHECK(first.elements[2].integer == 5000);
  auto second = claim("b:1:7");
  CHECK(status(second) == "pending");
  CHECK(second.elements[2].integer > 4000);
  CHECK(lua.run("dedup_get", {key}, {}).elements[0].str == "pending");
  CHECK(status(done("a:1:1", "{\"charge\":\"ch_1\"}")) == "stored");
  auto third = claim("b:1:7");
  CHECK(status(third) == "done");
  CHECK(third.elements[1].str == "{\"charge\":\"ch_1\"}");
  CHECK(third.elements[2].integer > 59000); // the result's ttl replaced the claim's
  CHECK(lua.call({"HGET", key, "owner"}).kind == resp_value::type::null);
}

TEST_CASE_METHOD(dedup_fixture, "only the owner completes: a finished key stays finished") {
  REQUIRE(status(claim("a:1:1")) == "new");
  auto taken = done("b:1:7", "forged");
  CHECK(status(taken) == "taken");
  CHECK(taken.elements[1].str == "a:1:1");
  CHECK(lua.call({"HGET", key, "state"}).str == "pending");
  REQUIRE(status(done("a:1:1", "real")) == "stored");
  CHECK(status(done("a:1:1", "again")) == "done");
  CHECK(lua.call({"HGET", key, "result"}).str == "real");
  // The same DONE sent again (its answer was lost) learns that it landed.
  CHECK(status(done("a:1:1", "real")) == "stored");
}

TEST_CASE_METHOD(dedup_fixture, "release frees only its owner's pending claim") {
  REQUIRE(status(claim("a:1:1")) == "new");
  CHECK(lua.run("dedup_release", {key}, {"b:1:7"}).integer == 0);
  CHECK(lua.run("dedup_release", {key}, {"a:1:1"}).integer == 1);
  CHECK(status(claim("b:1:7")) == "new"); // the retry proceeds at once
  REQUIRE(status(done("b:1:7", "r")) == "stored");
  CHECK(lua.run("dedup_release", {key}, {"b:1:7"}).integer == 0); // done stays
  CHECK(status(claim("c:1:1")) == "done");
}

TEST_CASE_METHOD(dedup_fixture, "a release for one request leaves a later claim of its owner") {
  auto claim_as = [&](const std::string& owner, const std::string& request) {
    return lua.run("dedup_claim", {key}, {owner, "5000", request});
  };
  REQUIRE(status(claim_as("a:1:1", "4")) == "new");
  CHECK(lua.run("dedup_release", {key}, {"a:1:1", "3"}).integer == 0); // an older request's
  CHECK(lua.call({"HGET", key, "state"}).str == "pending");
  CHECK(lua.run("dedup_release", {key}, {"a:1:1", "4"}).integer == 1);
  // Without a request id (the connection closed), any claim of the owner goes.
  REQUIRE(status(claim_as("a:1:1", "5")) == "new");
  CHECK(lua.run("dedup_release", {key}, {"a:1:1"}).integer == 1);
}

TEST_CASE_METHOD(dedup_fixture, "a result arriving after the claim ran out is still stored") {
  REQUIRE(status(claim("a:1:1", "20")) == "new");
  REQUIRE(test::eventually([&] { return lua.call({"EXISTS", key}).integer == 0; }, 2000));
  CHECK(status(done("a:1:1", "late")) == "stored");
  CHECK(lua.run("dedup_get", {key}, {}).elements[1].str == "late");
}

TEST_CASE_METHOD(dedup_fixture, "every dedup key has a ttl: get of a missing key is empty") {
  CHECK(lua.run("dedup_get", {key}, {}).elements.empty());
  REQUIRE(status(claim("a:1:1", "3000")) == "new");
  auto ttl = lua.call({"PTTL", key}).integer;
  CHECK(ttl > 0);
  CHECK(ttl <= 3000);
  REQUIRE(status(done("a:1:1", "r", "7000")) == "stored");
  ttl = lua.call({"PTTL", key}).integer;
  CHECK(ttl > 3000);
  CHECK(ttl <= 7000);
}
