// The state section: namespaces with their defaults (the key prefix from the top-level prefix,
// whatever the order in the file), every field and the request limits read, sealing that needs
// secrets.keks (also listed after state), and every mistake reported at its file:line:column,
// all at once.
#include <catch2/catch.hpp>

#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "daemon/config_loader.hpp"
#include "tests/support/config_problems.hpp"
#include "tests/support/test_redis.hpp"

using namespace baton;
using namespace std::chrono_literals;

using baton::test::dump;
using baton::test::has_problem;

TEST_CASE("without a state section there are no namespaces and the default limits") {
  auto r = load_config_text("", "empty.yaml");
  INFO(dump(r));
  REQUIRE(r.ok());
  CHECK(r.cfg.state == state::state_config{});
  CHECK(r.cfg.state.namespaces.empty());
  CHECK(r.cfg.state.max_key_length == 512);
  CHECK(r.cfg.state.max_batch_keys == 1000);
  CHECK(r.cfg.state.max_scan_count == 10000);
  CHECK(r.cfg.state.find("carts") == nullptr);
}

TEST_CASE("a namespace's defaults: key prefix from the prefix and its name, no ttl") {
  auto r = load_config_text("state:\n"
                            "  namespaces:\n"
                            "    - name: carts\n",
                            "d.yaml");
  INFO(dump(r));
  REQUIRE(r.ok());
  REQUIRE(r.cfg.state.namespaces.size() == 1);
  const auto* ns = r.cfg.state.find("carts");
  REQUIRE(ns);
  CHECK(ns->name == "carts");
  CHECK(ns->key_prefix == "baton:state:carts:");
  CHECK(ns->default_ttl == 0ms);
  CHECK(ns->max_ttl == state::state_namespace{}.max_ttl);
  CHECK(ns->max_value_bytes == std::size_t{1 << 20});
  CHECK_FALSE(ns->encrypt);
  CHECK_FALSE(ns->readers);
  CHECK_FALSE(ns->writers);
  state::state_namespace expected;
  expected.name = "carts";
  expected.key_prefix = "baton:state:carts:";
  CHECK(*ns == expected); // every other field at its default
}

TEST_CASE("the top-level prefix flows into key prefixes, even when it comes after state") {
  auto r = load_config_text("state:\n"
                            "  namespaces:\n"
                            "    - {name: carts}\n"
                            "    - {name: jobs.v2, key_prefix: \"jobs-state:\"}\n"
                            "prefix: acme\n",
                            "p.yaml");
  INFO(dump(r));
  REQUIRE(r.ok());
  CHECK(r.cfg.prefix == "acme");
  REQUIRE(r.cfg.state.find("carts"));
  CHECK(r.cfg.state.find("carts")->key_prefix == "acme:state:carts:");
  REQUIRE(r.cfg.state.find("jobs.v2"));
  CHECK(r.cfg.state.find("jobs.v2")->key_prefix == "jobs-state:"); // set: taken as it is
}

TEST_CASE("every field of a namespace and the request limits are read") {
  auto r = load_config_text("state:\n"
                            "  max_key_length: 256\n"
                            "  max_batch_keys: 50\n"
                            "  max_scan_count: 500\n"
                            "  namespaces:\n"
                            "    - name: carts\n"
                            "      key_prefix: \"app:carts:\"\n"
                            "      default_ttl_ms: 60000\n"
                            "      max_ttl_ms: 3600000\n"
                            "      max_value_bytes: 4096\n"
                            "      encrypt: false\n"
                            "      readers: {uids: [1000]}\n"
                            "      writers: {users: [root], uids: [1000, 1001], groups: [0]}\n"
                            "    - {name: open_ns}\n",
                            "f.yaml");
  INFO(dump(r));
  REQUIRE(r.ok());
  const auto& s = r.cfg.state;
  CHECK(s.max_key_length == 256);
  CHECK(s.max_batch_keys == 50);
  CHECK(s.max_scan_count == 500);
  REQUIRE(s.namespaces.size() == 2);
  CHECK(s.namespaces[0].name == "carts"); // in the file's order
  CHECK(s.namespaces[1].name == "open_ns");
  const auto* ns = s.find("carts");
  REQUIRE(ns);
  CHECK(ns->key_prefix == "app:carts:");
  CHECK(ns->default_ttl == 60s);
  CHECK(ns->max_ttl == 1h);
  CHECK(ns->max_value_bytes == 4096);
  CHECK_FALSE(ns->encrypt);
  REQUIRE(ns->readers);
  CHECK(ns->readers->uids == std::vector<uid_t>{1000});
  CHECK(ns->readers->gids.empty());
  REQUIRE(ns->writers);
  CHECK(ns->writers->uids == std::vector<uid_t>{0, 1000, 1001}); // root, then the uids
  CHECK(ns->writers->gids == std::vector<gid_t>{0});
  const auto* open = s.find("open_ns");
  REQUIRE(open);
  CHECK_FALSE(open->readers);
  CHECK_FALSE(open->writers);
}

TEST_CASE("an encrypted namespace needs secrets.keks, which may come after state") {
  test::temp_dir dir;
  std::ofstream(dir.file("k1")) << std::string(64, 'a') << "\n";
  auto r = load_config_text("state:\n"
                            "  namespaces: [{name: vault, encrypt: true}]\n"
                            "secrets:\n"
                            "  keks:\n"
                            "    - {id: k1, file: " +
                                dir.file("k1") + "}\n",
                            "e.yaml");
  INFO(dump(r));
  REQUIRE(r.ok());
  REQUIRE(r.cfg.state.find("vault"));
  CHECK(r.cfg.state.find("vault")->encrypt);

  auto without = load_config_text("state:\n"
                                  "  namespaces: [{name: vault, encrypt: true}]\n",
                                  "n.yaml");
  CHECK(has_problem(
      without, "n.yaml:2:39: namespace 'vault' is encrypted at rest, which needs secrets.keks"));
}

TEST_CASE("every state problem is reported at its line and column, all at once") {
  auto r = load_config_text("state:\n"
                            "  max_batch_keys: 0\n"
                            "  colour: red\n"
                            "  namespaces:\n"
                            "    - {name: a, colour: red}\n"
                            "    - {key_prefix: \"x:\"}\n"
                            "    - {name: \"a/b\"}\n"
                            "    - {name: a}\n"
                            "    - {name: b, key_prefix: \"shared:\"}\n"
                            "    - {name: c, key_prefix: \"shared:\"}\n"
                            "    - {name: d, key_prefix: \"x{y}:\"}\n"
                            "    - {name: e, default_ttl_ms: 7200000, max_ttl_ms: 3600000}\n"
                            "    - {name: f, encrypt: true}\n"
                            "    - {name: g, readers: {}}\n"
                            "    - {name: h, writers: {uids: []}}\n"
                            "    - {name: i, readers: {uid: [1000]}}\n"
                            "    - {name: j, readers: {uids: [-1]}}\n",
                            "s.yaml");
  INFO(dump(r));
  CHECK_FALSE(r.ok());
  const char* expected[] = {
      "s.yaml:2:19: max_batch_keys must be between 1 and 100000, got 0",
      "s.yaml:3:3: unknown key 'colour' in state",
      "s.yaml:5:17: unknown key 'colour' in a state namespace",
      "s.yaml:6:7: a state namespace needs a name",
      "s.yaml:7:14: a namespace name is 1 to 64 letters, digits, '-', '_' or '.', got 'a/b'",
      "s.yaml:8:7: namespace 'a' is listed twice",
      "s.yaml:8:7: namespace 'a': key_prefix 'baton:state:a:' is another namespace's too",
      "s.yaml:10:7: namespace 'c': key_prefix 'shared:' is another namespace's too",
      "s.yaml:11:29: key_prefix must not contain braces or whitespace",
      "s.yaml:12:7: default_ttl_ms must not exceed max_ttl_ms",
      "s.yaml:13:26: namespace 'f' is encrypted at rest, which needs secrets.keks",
      "s.yaml:14:26: readers names nobody",
      "s.yaml:15:26: writers names nobody",
      "s.yaml:16:27: unknown key 'uid' in a namespace's readers",
      "s.yaml:16:26: readers names nobody",
      "s.yaml:17:34: uids entries must be non-negative integers",
      "s.yaml:17:26: readers names nobody",
  };
  for (const char* text : expected) {
    INFO(text);
    CHECK(has_problem(r, text));
  }
  CHECK(r.problems.size() == std::size(expected)); // each once, nothing else
  // Of two namespaces sharing a key prefix, the first keeps it.
  REQUIRE(r.cfg.state.find("b"));
  CHECK(r.cfg.state.find("b")->key_prefix == "shared:");
}

TEST_CASE("state limits and namespace values out of bounds are problems") {
  auto r = load_config_text("state:\n"
                            "  max_key_length: 0\n"
                            "  max_scan_count: 2000000\n"
                            "  namespaces:\n"
                            "    - {name: a, max_ttl_ms: 5, default_ttl_ms: -1}\n"
                            "    - {name: b, max_value_bytes: big, encrypt: maybe}\n"
                            "    - {name: \"" +
                                std::string(65, 'n') +
                                "\"}\n"
                                "    - {name: c, key_prefix: \"\"}\n"
                                "  namespaces_typo: []\n",
                            "b.yaml");
  INFO(dump(r));
  CHECK(has_problem(r, "max_key_length must be between 1 and 65536, got 0"));
  CHECK(has_problem(r, "max_scan_count must be between 1 and 1000000, got 2000000"));
  CHECK(has_problem(r, "max_ttl_ms must be between 10 and"));
  CHECK(has_problem(r, "default_ttl_ms must be between 0 and"));
  CHECK(has_problem(r, "max_value_bytes must be an integer, got 'big'"));
  CHECK(has_problem(r, "encrypt must be true or false, got 'maybe'"));
  CHECK(has_problem(r, "a namespace name is 1 to 64 letters"));
  CHECK(has_problem(r, "key_prefix must not be empty"));
  CHECK(has_problem(r, "unknown key 'namespaces_typo' in state"));
  // Namespaces that are not a list.
  auto not_list = load_config_text("state: {namespaces: {name: a}}\n", "l.yaml");
  CHECK(has_problem(not_list, "l.yaml:1:21: state.namespaces must be a list"));
  auto not_map = load_config_text("state: [a]\n", "m.yaml");
  CHECK(has_problem(not_map, "state must be a map"));
}

// A namespace without a key_prefix of its own gets one made of the prefix and its name; a bad
// name (or prefix) is reported where it is written, and the rest of the file is still read.
TEST_CASE("a namespace name with a space is one problem and the rest is still read") {
  auto r = load_config_text("state:\n"
                            "  namespaces:\n"
                            "    - {name: \"a b\"}\n"
                            "    - {name: later, default_ttl_ms: -1}\n",
                            "sp.yaml");
  INFO(dump(r));
  CHECK(has_problem(r, "got 'a b'"));
  CHECK_FALSE(has_problem(r, "invalid node"));
  CHECK(has_problem(r, "default_ttl_ms must be between 0 and"));
}

// The same from the top-level prefix: validate_config reports it, and the state section reads on.
TEST_CASE("a top-level prefix with braces is reported without breaking the state section") {
  auto r = load_config_text("prefix: \"a{b}\"\n"
                            "state:\n"
                            "  namespaces:\n"
                            "    - {name: carts}\n"
                            "    - {name: later, default_ttl_ms: -1}\n",
                            "pb.yaml");
  INFO(dump(r));
  CHECK(has_problem(r, "prefix must not contain braces or whitespace"));
  CHECK_FALSE(has_problem(r, "invalid node"));
  CHECK(has_problem(r, "default_ttl_ms must be between 0 and"));
}
