// The cache section: no namespaces and the default limits without it, a namespace's defaults,
// every field and the request limits read, a near cache turned off by near_max_bytes: 0, and
// every mistake (an unknown key, a namespace without a name or with a bad or repeated one, a
// TTL past the namespace's longest, a near TTL of 0, namespaces that are not a list, values
// out of bounds) reported at its file:line:column, all at once.
#include <catch2/catch.hpp>

#include <chrono>
#include <cstddef>
#include <iterator>
#include <string>

#include "daemon/config_loader.hpp"
#include "model/cache/cache_settings.hpp"
#include "tests/support/config_problems.hpp"

using namespace baton;
using namespace std::chrono_literals;

using baton::test::dump;
using baton::test::has_problem;

TEST_CASE("without a cache section there are no cache namespaces and the default limits") {
  auto r = load_config_text("", "empty.yaml");
  INFO(dump(r));
  REQUIRE(r.ok());
  CHECK(r.cfg.cache == cache::cache_config{});
  CHECK(r.cfg.cache.namespaces.empty());
  CHECK(r.cfg.cache.max_key_length == 512);
  CHECK(r.cfg.cache.max_batch_keys == 1000);
  CHECK(r.cfg.cache.find("users") == nullptr);
}

TEST_CASE("a cache namespace's defaults: 5 min in Redis up to a day and 16 MiB near for 60 s") {
  auto r = load_config_text("cache:\n"
                            "  namespaces:\n"
                            "    - name: users\n",
                            "d.yaml");
  INFO(dump(r));
  REQUIRE(r.ok());
  REQUIRE(r.cfg.cache.namespaces.size() == 1);
  const auto* ns = r.cfg.cache.find("users");
  REQUIRE(ns);
  CHECK(ns->name == "users");
  CHECK(ns->ttl == 5min);
  CHECK(ns->max_ttl == 24h);
  CHECK(ns->max_value_bytes == (std::size_t{1} << 20));
  CHECK(ns->near_max_bytes == (std::size_t{16} << 20));
  CHECK(ns->near_ttl == 60s);
  cache::cache_namespace expected;
  expected.name = "users";
  CHECK(*ns == expected); // every other field at its default
  CHECK(r.cfg.cache.max_key_length == 512);
  CHECK(r.cfg.cache.max_batch_keys == 1000);
}

TEST_CASE("every field of a cache namespace and the cache request limits are read") {
  auto r = load_config_text("cache:\n"
                            "  max_key_length: 256\n"
                            "  max_batch_keys: 50\n"
                            "  namespaces:\n"
                            "    - name: users\n"
                            "      ttl_ms: 60000\n"
                            "      max_ttl_ms: 3600000\n"
                            "      max_value_bytes: 4096\n"
                            "      near_max_bytes: 1048576\n"
                            "      near_ttl_ms: 5000\n"
                            "    - {name: jobs.v2-x_y}\n",
                            "f.yaml");
  INFO(dump(r));
  REQUIRE(r.ok());
  const auto& s = r.cfg.cache;
  CHECK(s.max_key_length == 256);
  CHECK(s.max_batch_keys == 50);
  REQUIRE(s.namespaces.size() == 2);
  CHECK(s.namespaces[0].name == "users"); // in the file's order
  CHECK(s.namespaces[1].name == "jobs.v2-x_y");
  const auto* ns = s.find("users");
  REQUIRE(ns);
  CHECK(ns->ttl == 1min);
  CHECK(ns->max_ttl == 1h);
  CHECK(ns->max_value_bytes == 4096);
  CHECK(ns->near_max_bytes == 1048576);
  CHECK(ns->near_ttl == 5s);
  const auto* other = s.find("jobs.v2-x_y");
  REQUIRE(other);
  cache::cache_namespace expected;
  expected.name = "jobs.v2-x_y";
  CHECK(*other == expected);
}

TEST_CASE("near_max_bytes 0 is accepted and turns the near cache off") {
  auto r = load_config_text("cache:\n"
                            "  namespaces:\n"
                            "    - {name: raw, near_max_bytes: 0}\n",
                            "z.yaml");
  INFO(dump(r));
  REQUIRE(r.ok());
  REQUIRE(r.cfg.cache.find("raw"));
  CHECK(r.cfg.cache.find("raw")->near_max_bytes == 0);
}

TEST_CASE("every cache problem is reported at its line and column all at once") {
  auto r = load_config_text("cache:\n"
                            "  max_batch_keys: 0\n"
                            "  colour: red\n"
                            "  namespaces:\n"
                            "    - {name: a, colour: red}\n"
                            "    - {ttl_ms: 1000}\n"
                            "    - {name: \"a/b\"}\n"
                            "    - {name: a}\n"
                            "    - {name: e, ttl_ms: 7200000, max_ttl_ms: 3600000}\n"
                            "    - {name: f, near_ttl_ms: 0}\n"
                            "    - {name: g, near_max_bytes: 0}\n"
                            "    - oops\n",
                            "c.yaml");
  INFO(dump(r));
  CHECK_FALSE(r.ok());
  const char* expected[] = {
      "c.yaml:2:19: max_batch_keys must be between 1 and 100000, got 0",
      "c.yaml:3:3: unknown key 'colour' in cache",
      "c.yaml:5:17: unknown key 'colour' in a cache namespace",
      "c.yaml:6:7: a cache namespace needs a name",
      "c.yaml:7:14: a namespace name is 1 to 64 letters, digits, '-', '_' or '.', got 'a/b'",
      "c.yaml:8:7: namespace 'a' is listed twice",
      "c.yaml:9:7: ttl_ms must not exceed max_ttl_ms",
      "c.yaml:10:30: near_ttl_ms must be between 1 and 86400000, got 0",
      "c.yaml:12:7: a cache namespace must be a map",
  };
  for (const char* text : expected) {
    INFO(text);
    CHECK(has_problem(r, text));
  }
  CHECK(r.problems.size() == std::size(expected)); // each once, nothing else
}

TEST_CASE("cache namespaces that are not a list or a cache section that is not a map") {
  auto not_list = load_config_text("cache: {namespaces: {name: a}}\n", "l.yaml");
  INFO(dump(not_list));
  CHECK(has_problem(not_list, "l.yaml:1:21: cache.namespaces must be a list"));
  CHECK(not_list.problems.size() == 1);
  CHECK(not_list.cfg.cache.namespaces.empty());
  auto not_map = load_config_text("cache: [a]\n", "m.yaml");
  INFO(dump(not_map));
  CHECK(has_problem(not_map, "m.yaml:1:8: cache must be a map"));
}

TEST_CASE("cache limits and namespace values out of bounds are problems") {
  auto r = load_config_text("cache:\n"
                            "  max_key_length: 0\n"
                            "  max_batch_keys: 100001\n"
                            "  namespaces:\n"
                            "    - {name: a, ttl_ms: 0, max_ttl_ms: big}\n"
                            "    - {name: b, max_value_bytes: -1, near_max_bytes: 68719476737}\n"
                            "    - {name: c, near_ttl_ms: 86400001}\n"
                            "    - {name: d, ttl_ms: 90000000}\n"
                            "    - {name: \"" +
                                std::string(65, 'n') + "\"}\n",
                            "b.yaml");
  INFO(dump(r));
  CHECK(has_problem(r, "b.yaml:2:19: max_key_length must be between 1 and 65536, got 0"));
  CHECK(has_problem(r, "b.yaml:3:19: max_batch_keys must be between 1 and 100000, got 100001"));
  CHECK(has_problem(r, "b.yaml:5:25: ttl_ms must be between 1 and 315360000000, got 0"));
  CHECK(has_problem(r, "b.yaml:5:40: max_ttl_ms must be an integer, got 'big'"));
  CHECK(has_problem(r, "b.yaml:6:34: max_value_bytes must be between 0 and 536870912, got -1"));
  CHECK(has_problem(r, "near_max_bytes must be between 0 and 68719476736, got 68719476737"));
  CHECK(has_problem(r, "b.yaml:7:30: near_ttl_ms must be between 1 and 86400000, got 86400001"));
  // A TTL past the default longest (a day) with no max_ttl_ms written.
  CHECK(has_problem(r, "b.yaml:8:7: ttl_ms must not exceed max_ttl_ms"));
  CHECK(has_problem(r, "a namespace name is 1 to 64 letters"));
  CHECK(r.problems.size() == 9);
}
