// The secrets section: KEK sources that must load (so --check-config catches a missing or
// malformed key before a deploy does), access rules, rotating items, and every mistake
// reported with its position; and the KEK text encodings.
#include <catch2/catch.hpp>

#include <cstdlib>
#include <fstream>

#include "daemon/config_loader.hpp"
#include "model/secret/kek_loader.hpp"
#include "tests/support/config_problems.hpp"
#include "tests/support/test_redis.hpp"

using namespace baton;

using baton::test::dump;
using baton::test::has_problem;

TEST_CASE("the secrets section is read: KEKs, limits, access rules and items") {
  test::temp_dir dir;
  std::ofstream(dir.file("k1")) << std::string(64, 'a') << "\n";
  ::setenv("BATON_TEST_KEK", "YWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWE=", 1); // 32 x 'a'
  auto r =
      load_config_text("secrets:\n"
                       "  keks:\n"
                       "    - {id: new, env: BATON_TEST_KEK, encoding: base64}\n"
                       "    - {id: old, file: " +
                           dir.file("k1") +
                           "}\n"
                           "  active_kek: new\n"
                           "  grace_ms: 5000\n"
                           "  access:\n"
                           "    - {names: [\"billing/*\", stripe], uids: [1000], groups: [0], "
                           "allow: [get, verify]}\n"
                           "    - {names: [\"*\"], uids: [1001], allow: [\"*\"]}\n"
                           "  items:\n"
                           "    - {name: stripe, rotate_every_ms: 86400000, grace_ms: 3600000, "
                           "encoding: base64, generate_hook: /bin/new-key}\n",
                       "s.yaml");
  ::unsetenv("BATON_TEST_KEK");
  INFO(dump(r));
  REQUIRE(r.ok());
  const auto& s = r.cfg.secrets;
  CHECK(s.enabled());
  REQUIRE(s.keks.size() == 2);
  CHECK(s.keks[0].encoding == "base64");
  CHECK(s.active_kek == "new");
  CHECK(s.grace.count() == 5000);
  REQUIRE(s.access.size() == 2);
  CHECK(s.access[0].get);
  CHECK(s.access[0].verify);
  CHECK_FALSE(s.access[0].admin);
  CHECK(s.access[1].admin);
  REQUIRE(s.item("stripe"));
  CHECK(s.item("stripe")->rotate_every.count() == 86400000);
  CHECK(s.item("stripe")->grace->count() == 3600000);
  CHECK(s.item("stripe")->generate_hook == "/bin/new-key");
}

TEST_CASE("broken secrets config fails the check, each problem with its position") {
  test::temp_dir dir;
  std::ofstream(dir.file("short")) << "abcd\n";
  auto r = load_config_text("secrets:\n"
                            "  keks:\n"
                            "    - {id: a, file: /nonexistent/kek}\n"
                            "    - {id: a, env: X, file: /y}\n"
                            "    - {id: b, env: BATON_NO_SUCH_VARIABLE}\n"
                            "    - {id: c, file: " +
                                dir.file("short") +
                                ", encoding: rot13}\n"
                                "  active_kek: zzz\n"
                                "  hook_timeout_ms: 60000\n"
                                "  rotation_lease_ms: 30000\n"
                                "  color: blue\n"
                                "  access:\n"
                                "    - {names: [\"bad name\"], users: [no-such-user-here], allow: "
                                "[read]}\n"
                                "  items:\n"
                                "    - {name: x, rotate_every_ms: 60000, grace_ms: 60000}\n"
                                "    - {name: x, encoding: ascii}\n",
                            "bad.yaml");
  INFO(dump(r));
  CHECK_FALSE(r.ok());
  CHECK(has_problem(r, "bad.yaml:4:7: KEK 'a' needs exactly one of file or env"));
  CHECK(has_problem(r, "duplicate KEK id 'a'"));
  CHECK(has_problem(r, "KEK encoding must be hex, base64 or raw, got 'rot13'"));
  CHECK(has_problem(r, "active_kek 'zzz' is not a KEK listed"));
  CHECK(has_problem(r, "hook_timeout_ms must be shorter than rotation_lease_ms"));
  CHECK(has_problem(r, "unknown key 'color' in secrets"));
  CHECK(has_problem(r, "'bad name' is not a secret name"));
  CHECK(has_problem(r, "user 'no-such-user-here' does not exist"));
  CHECK(has_problem(r, "allow entries are get, verify, admin or *, got 'read'"));
  CHECK(has_problem(r, "grace_ms must be shorter than rotate_every_ms"));
  CHECK(has_problem(r, "duplicate secret 'x'"));
  CHECK(has_problem(r, "encoding must be hex or base64, got 'ascii'"));
}

TEST_CASE("secrets.cache_max_entries is bounded, and holds at least the items") {
  CHECK(has_problem(load_config_text("secrets: {cache_max_entries: 0}", "f"),
                    "cache_max_entries must be between 1 and"));
  auto r = load_config_text("secrets:\n"
                            "  cache_max_entries: 1\n"
                            "  items: [{name: x}, {name: y}]\n",
                            "f");
  CHECK(has_problem(r, "secrets.cache_max_entries (1) must be at least the number of items (2)"));
  CHECK(load_config_text("secrets: {cache_max_entries: 5}", "f").cfg.secrets.cache_max_entries ==
        5);
}

TEST_CASE("KEKs that do not load fail the check with what is wrong, never the key") {
  test::temp_dir dir;
  std::ofstream(dir.file("short")) << "abcd\n";
  std::ofstream(dir.file("nothex")) << std::string(63, 'a') << "g\n";
  auto r = load_config_text("secrets:\n  keks:\n"
                            "    - {id: missing, file: /nonexistent/kek}\n"
                            "    - {id: unset, env: BATON_NO_SUCH_VARIABLE}\n"
                            "    - {id: short, file: " +
                                dir.file("short") +
                                "}\n    - {id: nothex, file: " + dir.file("nothex") + "}\n",
                            "keks.yaml");
  INFO(dump(r));
  CHECK(has_problem(r, "KEK 'missing': cannot read file /nonexistent/kek"));
  CHECK(has_problem(r, "KEK 'unset': environment variable BATON_NO_SUCH_VARIABLE is not set"));
  CHECK(has_problem(r, "KEK 'short' must be 32 bytes, got 2"));
  CHECK(has_problem(r, "KEK 'nothex' in file " + dir.file("nothex") + " is not valid hex"));
  CHECK_FALSE(has_problem(r, std::string(63, 'a')));
  // Secrets without KEKs cannot work.
  auto none = load_config_text("secrets:\n  items:\n    - {name: x}\n", "none.yaml");
  CHECK(has_problem(none, "secrets need at least one KEK (secrets.keks)"));
}

TEST_CASE("KEK text is decoded as hex, base64 or raw") {
  secret::secure_bytes out;
  REQUIRE(secret::decode_key_text("  00ff10\n", "hex", out));
  CHECK(out.size() == 3);
  CHECK(out.data()[1] == 0xff);
  CHECK_FALSE(secret::decode_key_text("0g", "hex", out));
  CHECK_FALSE(secret::decode_key_text("abc", "hex", out));
  REQUIRE(secret::decode_key_text("aGk=\n", "base64", out));
  CHECK(out.view() == "hi");
  REQUIRE(secret::decode_key_text("aGl0", "base64", out));
  CHECK(out.view() == "hit");
  CHECK_FALSE(secret::decode_key_text("a*b=", "base64", out));
  CHECK_FALSE(secret::decode_key_text("abc", "base64", out));
  REQUIRE(secret::decode_key_text(" raw\n", "raw", out));
  CHECK(out.view() == " raw\n"); // raw bytes are taken as they are
  CHECK_FALSE(secret::decode_key_text("00", "rot13", out));
  auto bytes = secret::secure_bytes(std::string_view("\x01\xab", 2));
  CHECK(secret::to_hex(bytes) == "01ab");
  CHECK(secret::to_base64(secret::secure_bytes(std::string_view("hit"))) == "aGl0");
}
