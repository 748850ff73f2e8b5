// lua/cache_*.lua on a real redis-server: cache_set stores a value with its TTL and, in the same
// step, publishes the invalidation it is given on the cache channel; cache_get answers {} for
// an absent entry and {value, ms left} for a present one; cache_delete deletes its entries,
// answers how many there were, and publishes one "k <namespace> <key>" per key, or nothing when
// it is given no namespace (INVALIDATE PATTERN's batches). Messages are read on a second
// connection subscribed before the script runs; "nothing" is shown by a sentinel published
// after the script arriving first. Also: glob_match, which drops near-cache entries for
// INVALIDATE PATTERN, reads patterns as Redis' KEYS (and SCAN MATCH) does, which deletes them.
#include <catch2/catch.hpp>

#include <set>
#include <string>
#include <vector>

#include "protocol/resp_client.hpp"
#include "services/cache/near_cache.hpp"
#include "tests/support/script_runner.hpp"
#include "tests/support/test_redis.hpp"

using namespace baton;
using protocol::resp_value;

namespace {

const std::string channel = "baton:cache-events";
const std::string key = "baton:cache:users:{u1}";

/// The Redis key of the app's key `app_key` in the namespace "users".
std::string entry(const std::string& app_key) {
  return "baton:cache:users:{" + app_key + "}";
}

struct cache_fixture {
  test::test_redis redis;
  test::script_runner lua{redis.socket_path()};
  /// A second connection, for the channel's messages.
  protocol::resp_client events{redis.socket_path()};

  /// Subscribes `events` to the cache channel and waits for the confirmation.
  void subscribe() {
    events.send({"SUBSCRIBE", channel});
    auto confirmed = events.read();
    INFO(confirmed.to_string());
    REQUIRE(confirmed.kind == resp_value::type::array);
    REQUIRE(confirmed.elements.size() == 3);
    REQUIRE(confirmed.elements[0].str == "subscribe");
    REQUIRE(confirmed.elements[1].str == channel);
    REQUIRE(confirmed.elements[2].integer == 1);
  }
  /// The payload of the next message on the channel (the read throws after 5 s without one).
  std::string next_message() {
    auto message = events.read();
    INFO(message.to_string());
    REQUIRE(message.kind == resp_value::type::array);
    REQUIRE(message.elements.size() == 3);
    CHECK(message.elements[0].str == "message");
    CHECK(message.elements[1].str == channel);
    return message.elements[2].str;
  }
  /// Publishes a sentinel: the next message read is it if the script published nothing more.
  void publish_sentinel() { REQUIRE(lua.call({"PUBLISH", channel, "sentinel"}).integer == 1); }
  resp_value set(const std::string& redis_key, const std::string& value, const std::string& ttl_ms,
                 const std::string& message) {
    return lua.run("cache_set", {redis_key}, {value, ttl_ms, channel, message});
  }
  resp_value get(const std::string& redis_key) { return lua.run("cache_get", {redis_key}, {}); }
};

} // namespace

// -- cache_set --------------------------------------------------------------------------------

TEST_CASE_METHOD(cache_fixture, "cache_set stores the value with PX and publishes its message") {
  subscribe();
  auto r = set(key, "v1", "60000", "k users u1");
  INFO(r.to_string());
  CHECK(r.kind == resp_value::type::integer);
  CHECK(r.integer == 1);
  CHECK(lua.call({"GET", key}).str == "v1");
  auto left = lua.call({"PTTL", key}).integer;
  CHECK(left > 59000);
  CHECK(left <= 60000);
  CHECK(next_message() == "k users u1");
  publish_sentinel();
  CHECK(next_message() == "sentinel"); // one message, not more
}

TEST_CASE_METHOD(cache_fixture, "cache_set replaces the value and the TTL of an entry") {
  subscribe();
  REQUIRE(set(key, "v1", "60000", "k users u1").integer == 1);
  REQUIRE(set(key, "v2", "5000", "k users u1").integer == 1);
  CHECK(lua.call({"GET", key}).str == "v2");
  auto left = lua.call({"PTTL", key}).integer;
  CHECK(left > 4000);
  CHECK(left <= 5000); // the second write's TTL, not the longer first one
  CHECK(next_message() == "k users u1");
  CHECK(next_message() == "k users u1");
}

TEST_CASE_METHOD(cache_fixture, "cache_set keeps a binary value whole and publishes a key with "
                                "spaces as given") {
  subscribe();
  const std::string value("a\0b\r\nc", 6);
  REQUIRE(set(entry("a b"), value, "60000", "k users a b").integer == 1);
  CHECK(lua.call({"GET", entry("a b")}).str == value);
  CHECK(next_message() == "k users a b");
}

// -- cache_get --------------------------------------------------------------------------------

TEST_CASE_METHOD(cache_fixture, "cache_get answers an empty array for an absent entry") {
  auto absent = get(key);
  INFO(absent.to_string());
  CHECK(absent.kind == resp_value::type::array);
  CHECK(absent.elements.empty());
}

TEST_CASE_METHOD(cache_fixture, "cache_get answers the value and the ms it has left") {
  REQUIRE(set(key, "v1", "30000", "k users u1").integer == 1);
  auto present = get(key);
  INFO(present.to_string());
  REQUIRE(present.kind == resp_value::type::array);
  REQUIRE(present.elements.size() == 2);
  CHECK(present.elements[0].kind == resp_value::type::bulk);
  CHECK(present.elements[0].str == "v1");
  CHECK(present.elements[1].kind == resp_value::type::integer);
  CHECK(present.elements[1].integer > 29000);
  CHECK(present.elements[1].integer <= 30000);
  // Deleted, it is absent again.
  REQUIRE(lua.call({"DEL", key}).integer == 1);
  CHECK(get(key).elements.empty());
}

TEST_CASE_METHOD(cache_fixture, "cache_get of an entry without a TTL answers -1 ms left") {
  // Not written by cache_set (which always gives a TTL): the daemon does not cache it near.
  REQUIRE(lua.call({"SET", key, "forever"}).str == "OK");
  auto present = get(key);
  INFO(present.to_string());
  REQUIRE(present.elements.size() == 2);
  CHECK(present.elements[0].str == "forever");
  CHECK(present.elements[1].integer == -1);
}

// -- cache_delete -----------------------------------------------------------------------------

TEST_CASE_METHOD(cache_fixture, "cache_delete deletes its entries and publishes one message per "
                                "key") {
  for (const char* k : {"a", "b c"})
    REQUIRE(lua.call({"SET", entry(k), "v", "PX", "60000"}).str == "OK");
  REQUIRE(lua.call({"SET", entry("other"), "v"}).str == "OK");
  subscribe();
  auto r = lua.run("cache_delete", {entry("a"), entry("b c"), entry("absent")},
                   {channel, "users", "a", "b c", "absent"});
  INFO(r.to_string());
  CHECK(r.kind == resp_value::type::integer);
  CHECK(r.integer == 2); // the absent one is not counted
  CHECK(lua.call({"EXISTS", entry("a"), entry("b c")}).integer == 0);
  CHECK(lua.call({"EXISTS", entry("other")}).integer == 1); // not named: left alone
  // One message per key, in KEYS' order, the absent one too (a near cache may hold it).
  CHECK(next_message() == "k users a");
  CHECK(next_message() == "k users b c");
  CHECK(next_message() == "k users absent");
  publish_sentinel();
  CHECK(next_message() == "sentinel");
}

TEST_CASE_METHOD(cache_fixture, "cache_delete without a namespace deletes and publishes nothing") {
  for (const char* k : {"a", "b"})
    REQUIRE(lua.call({"SET", entry(k), "v"}).str == "OK");
  subscribe();
  auto r = lua.run("cache_delete", {entry("a"), entry("b"), entry("absent")}, {channel, ""});
  INFO(r.to_string());
  CHECK(r.kind == resp_value::type::integer);
  CHECK(r.integer == 2);
  CHECK(lua.call({"EXISTS", entry("a"), entry("b")}).integer == 0);
  publish_sentinel();
  CHECK(next_message() == "sentinel"); // nothing came before it
}

TEST_CASE_METHOD(cache_fixture, "cache_delete of entries that are all absent answers 0") {
  subscribe();
  auto r = lua.run("cache_delete", {entry("x")}, {channel, "users", "x"});
  INFO(r.to_string());
  CHECK(r.kind == resp_value::type::integer);
  CHECK(r.integer == 0);
  CHECK(next_message() == "k users x");
}

// -- glob_match against Redis -----------------------------------------------------------------

// INVALIDATE PATTERN deletes what Redis' SCAN MATCH finds and drops from near caches what
// glob_match matches: a key Redis matches and glob_match does not would stay in near caches
// after its delete. Checked with KEYS, which reads patterns as SCAN MATCH does.
TEST_CASE_METHOD(cache_fixture, "glob_match matches what Redis' KEYS matches") {
  std::vector<std::string> keys = {"a",     "b",     "m",        "M",    "-",      "]",     "[",
                                   "^",     "\\",    "*",        "?",    "x",      "ab",    "abc",
                                   "axb",   "a*b",   "a?b",      "a[b",  "hello",  "hallo", "hillo",
                                   "hllo",  "hbllo", "heeeello", "abc7", "abcdef", "xxabc", "abcx",
                                   "xaxxb", "abxbc", "aab",      "a-",   "a}b",    "{a}"};
  for (const char* k : {"user:42:profile", "user::profile", "user:a:b:profile", "user:42:profiles",
                        "user:42:orders", "admin:user:1:profile"})
    keys.push_back(k);
  for (const auto& k : keys)
    REQUIRE(lua.call({"SET", k, "1"}).str == "OK");
  const std::vector<std::string> patterns = {
      "*",         "?",     "??",    "a",       "h?llo",         "h*llo", "h[ae]llo", "h[^e]llo",
      "h[a-b]llo", "[a-z]", "[z-a]", "[^a-z]",  "[-a]",          "a\\*b", "\\?",      "a\\[b",
      "\\\\",      "[\\]]", "abc*",  "*abc",    "*a*b",          "a*b*c", "*ab",      "*[0-9]",
      "?*",        "*?",    "**a",   "a[bc]*d", "user:*:profile",
      // Redis' own reading of odd classes: an empty class, a range to ']', an escape in a
      // range, an unclosed class.
      "[]x]", "[^]x]", "[a-]", "[\\a-z]", "[a-\\z]", "[^]", "[]", "a[b", "[abc"};
  keys.insert(keys.end(), {"ax]", "_", "`", "z", "c"});
  for (const auto& k : {"ax]", "_", "`", "z", "c"})
    REQUIRE(lua.call({"SET", k, "1"}).str == "OK");
  for (const auto& pattern : patterns) {
    auto found = lua.call({"KEYS", pattern});
    INFO(found.to_string());
    REQUIRE(found.kind == resp_value::type::array);
    std::set<std::string> in_redis;
    for (const auto& e : found.elements)
      in_redis.insert(e.str);
    for (const auto& k : keys) {
      INFO("pattern '" << pattern << "' key '" << k << "'");
      CHECK(baton::cache::glob_match(pattern, k) == (in_redis.count(k) == 1));
    }
  }
}
