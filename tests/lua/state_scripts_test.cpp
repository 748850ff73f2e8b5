// lua/state_*.lua on a real redis-server: a write's version is Redis' clock in microseconds and
// grows with every write (also within one microsecond, and across a delete: no ABA under
// IFVERSION); IFABSENT and IFVERSION change nothing on a conflict; a write sent again is
// answered as the first was; a read comes whole (version, ms left, value) and GETDEL deletes
// the plain entries it read (a sealed one is left for the daemon to delete once opened);
// sealed values keep their three parts; a delete on a version deletes only that version; a
// restore writes exactly what an export recorded, as often as it runs.
#include <catch2/catch.hpp>

#include <cstdint>
#include <string>
#include <vector>

#include "tests/support/script_runner.hpp"
#include "tests/support/test_redis.hpp"

using namespace baton;
using protocol::resp_value;

namespace {

const std::string key = "baton:state:t:{k1}";
const std::string key_a = "baton:state:t:{a}";
const std::string key_b = "baton:state:t:{b}";
const std::string key_c = "baton:state:t:{c}";

struct state_fixture {
  test::test_redis redis;
  test::script_runner lua{redis.socket_path()};
  int sent = 0; ///< numbers the write ids, unique to each request as the daemon's are

  std::string next_id() { return "node-1:run-1:" + std::to_string(++sent); }

  /// SET of a plain value on `key` with the write id `id`.
  resp_value set_as(const std::string& id, const std::string& value,
                    const std::string& condition = "", const std::string& expected = "0",
                    const std::string& ttl_ms = "0") {
    return lua.run("state_write", {key}, {condition, expected, ttl_ms, id, value, "", "", ""});
  }
  /// SET of a plain value on `key` as a new request.
  resp_value set(const std::string& value, const std::string& condition = "",
                 const std::string& expected = "0", const std::string& ttl_ms = "0") {
    return set_as(next_id(), value, condition, expected, ttl_ms);
  }
  /// MSET of plain values, one per key, as a new request (or as `id`'s, when given).
  resp_value mset(const std::vector<std::string>& keys, const std::vector<std::string>& values,
                  const std::string& id = "") {
    std::vector<std::string> args = {"", "0", "0", id.empty() ? next_id() : id};
    for (const auto& v : values) {
      args.push_back(v);
      args.push_back("");
      args.push_back("");
      args.push_back("");
    }
    return lua.run("state_write", keys, args);
  }
  resp_value get(const std::vector<std::string>& keys) { return lua.run("state_read", keys, {"get"}); }
  resp_value getdel(const std::string& one) { return lua.run("state_getdel", {one}, {}); }
  /// The entry of `key` as state_read answers it ({} when absent).
  resp_value entry() {
    auto r = get({key});
    REQUIRE(r.kind == resp_value::type::array);
    REQUIRE(r.elements.size() == 1);
    return r.elements[0];
  }
  resp_value del(const std::vector<std::string>& keys, const std::string& expected = "") {
    return lua.run("state_delete", keys, {expected});
  }
  /// The stored version of `k`, 0 when absent.
  std::int64_t stored_version(const std::string& k) {
    auto v = lua.call({"HGET", k, "ver"});
    return v.kind == resp_value::type::null ? 0 : std::stoll(v.str);
  }
  std::string field(const std::string& k, const std::string& name) {
    return lua.call({"HGET", k, name}).str;
  }
  std::int64_t pttl(const std::string& k) { return lua.call({"PTTL", k}).integer; }
  bool exists(const std::string& k) { return lua.call({"EXISTS", k}).integer == 1; }
  /// Redis' clock (TIME) in microseconds.
  std::int64_t redis_micros() {
    auto t = lua.call({"TIME"});
    REQUIRE(t.elements.size() == 2);
    return std::stoll(t.elements[0].str) * 1000000 + std::stoll(t.elements[1].str);
  }
};

std::string status(const resp_value& r) {
  return r.elements.at(0).str;
}
std::int64_t version(const resp_value& r) {
  return r.elements.at(1).integer;
}

} // namespace

// -- state_write: versions -------------------------------------------------------------------

TEST_CASE_METHOD(state_fixture, "a write answers ok and a version from Redis' clock in us") {
  auto before = redis_micros();
  auto w = set("v1");
  INFO(w.to_string());
  REQUIRE(status(w) == "ok");
  REQUIRE(w.elements.size() == 2);
  CHECK(version(w) >= before);
  CHECK(version(w) <= redis_micros());
  CHECK(stored_version(key) == version(w));
  CHECK(field(key, "v") == "v1");
}

TEST_CASE_METHOD(state_fixture, "versions of a key grow strictly with every write") {
  std::int64_t last = 0;
  for (int i = 0; i < 300; ++i) {
    auto before = redis_micros();
    auto w = set("v" + std::to_string(i));
    REQUIRE(status(w) == "ok");
    REQUIRE(version(w) > last);
    REQUIRE(version(w) >= before);
    last = version(w);
  }
  CHECK(stored_version(key) == last);
}

TEST_CASE_METHOD(state_fixture,
                 "a version ahead of the clock grows by one: two writes in one microsecond") {
  // Two writes within the same microsecond find the clock not past the version they replace:
  // here the version is an hour ahead, so every write meets that case.
  auto ahead = redis_micros() + 3600LL * 1000000;
  auto restored = lua.run("state_restore", {key}, {std::to_string(ahead), "0", "old", "", "", ""});
  REQUIRE(restored.integer == 1);
  auto first = set("x");
  REQUIRE(status(first) == "ok");
  CHECK(version(first) == ahead + 1);
  auto second = set("y");
  REQUIRE(status(second) == "ok");
  CHECK(version(second) == ahead + 2);
  CHECK(field(key, "v") == "y");
  // Other keys of the same call keep to the clock.
  auto both = mset({key, key_a}, {"z", "a"});
  REQUIRE(status(both) == "ok");
  CHECK(both.elements.at(1).integer == ahead + 3);
  CHECK(both.elements.at(2).integer < ahead);
}

TEST_CASE_METHOD(state_fixture, "a key deleted and written again gets a greater version") {
  auto v1 = version(set("one"));
  auto v2 = version(set("two"));
  REQUIRE(v2 > v1);
  auto gone = del({key});
  REQUIRE(status(gone) == "ok");
  REQUIRE(version(gone) == 1);
  auto again = set("one");
  REQUIRE(status(again) == "ok");
  auto v3 = version(again);
  CHECK(v3 > v2);
  // So a client holding an old version cannot write over the new value (no ABA).
  CHECK(status(set("stale", "version", std::to_string(v1))) == "conflict");
  CHECK(status(set("stale", "version", std::to_string(v2))) == "conflict");
  CHECK(field(key, "v") == "one");
  CHECK(stored_version(key) == v3);
}

// -- state_write and state_read: values and TTLs ---------------------------------------------

TEST_CASE_METHOD(state_fixture, "a write then read gives version, no expiry and the value") {
  auto w = set("hello");
  REQUIRE(status(w) == "ok");
  auto e = entry();
  INFO(e.to_string());
  REQUIRE(e.elements.size() == 6);
  CHECK(e.elements[0].integer == version(w));
  CHECK(e.elements[1].integer == -1);
  CHECK(e.elements[2].str == "hello");
  CHECK(e.elements[3].str.empty());
  CHECK(e.elements[4].str.empty());
  CHECK(e.elements[5].str.empty());
  // An empty value is a value.
  auto empty = set("");
  REQUIRE(status(empty) == "ok");
  auto e2 = entry();
  REQUIRE(e2.elements.size() == 6);
  CHECK(e2.elements[0].integer == version(empty));
  CHECK(e2.elements[2].str.empty());
}

TEST_CASE_METHOD(state_fixture, "a read of an absent key answers an empty entry") {
  auto r = get({key});
  REQUIRE(r.kind == resp_value::type::array);
  REQUIRE(r.elements.size() == 1);
  CHECK(r.elements[0].kind == resp_value::type::array);
  CHECK(r.elements[0].elements.empty());
  CHECK_FALSE(exists(key));
}

TEST_CASE_METHOD(state_fixture, "a ttl sets the expiry, ttl 0 in a later write removes it") {
  REQUIRE(status(set("v", "", "0", "5000")) == "ok");
  auto left = pttl(key);
  CHECK(left > 0);
  CHECK(left <= 5000);
  auto e = entry();
  REQUIRE(e.elements.size() == 6);
  CHECK(e.elements[1].integer > 0);
  CHECK(e.elements[1].integer <= 5000);
  REQUIRE(status(set("w", "", "0", "0")) == "ok");
  CHECK(pttl(key) == -1);
  CHECK(entry().elements.at(1).integer == -1);
  // And the entry is gone once its time is up.
  REQUIRE(status(set("short", "", "0", "50")) == "ok");
  REQUIRE(test::eventually([&] { return !exists(key); }, 3000));
  CHECK(entry().elements.empty());
}

TEST_CASE_METHOD(state_fixture, "a multi-key write writes every key, each with a version") {
  auto before = redis_micros();
  auto w = mset({key_a, key_b, key_c}, {"va", "vb", "vc"});
  INFO(w.to_string());
  REQUIRE(status(w) == "ok");
  REQUIRE(w.elements.size() == 4);
  const std::vector<std::string> keys = {key_a, key_b, key_c};
  const std::vector<std::string> values = {"va", "vb", "vc"};
  for (std::size_t i = 0; i < keys.size(); ++i) {
    CHECK(w.elements[i + 1].integer >= before);
    CHECK(stored_version(keys[i]) == w.elements[i + 1].integer);
    CHECK(field(keys[i], "v") == values[i]);
  }
  // Read back in the request's order, an absent key in the middle.
  auto r = get({key_c, key, key_a});
  REQUIRE(r.elements.size() == 3);
  REQUIRE(r.elements[0].elements.size() == 6);
  CHECK(r.elements[0].elements[0].integer == w.elements[3].integer);
  CHECK(r.elements[0].elements[2].str == "vc");
  CHECK(r.elements[1].elements.empty());
  REQUIRE(r.elements[2].elements.size() == 6);
  CHECK(r.elements[2].elements[0].integer == w.elements[1].integer);
  CHECK(r.elements[2].elements[2].str == "va");
}

TEST_CASE_METHOD(state_fixture, "a sealed value keeps kek, wkey and ct, and no plain value") {
  auto w = lua.run("state_write", {key},
                   {"", "0", "0", next_id(), "", "kek-1", "wrapped-key", "cipher-text"});
  REQUIRE(status(w) == "ok");
  CHECK(field(key, "v").empty());
  CHECK(field(key, "kek") == "kek-1");
  CHECK(field(key, "wkey") == "wrapped-key");
  CHECK(field(key, "ct") == "cipher-text");
  auto e = entry();
  REQUIRE(e.elements.size() == 6);
  CHECK(e.elements[0].integer == version(w));
  CHECK(e.elements[1].integer == -1);
  CHECK(e.elements[2].str.empty());
  CHECK(e.elements[3].str == "kek-1");
  CHECK(e.elements[4].str == "wrapped-key");
  CHECK(e.elements[5].str == "cipher-text");
  // A plain value written over it leaves none of the sealed parts behind.
  REQUIRE(status(set("plain")) == "ok");
  CHECK(lua.call({"HEXISTS", key, "kek"}).integer == 0);
  CHECK(lua.call({"HEXISTS", key, "wkey"}).integer == 0);
  CHECK(lua.call({"HEXISTS", key, "ct"}).integer == 0);
  auto plain = entry();
  REQUIRE(plain.elements.size() == 6);
  CHECK(plain.elements[2].str == "plain");
  CHECK(plain.elements[3].str.empty());
}

TEST_CASE_METHOD(state_fixture, "getdel reads a plain entry, then deletes it") {
  auto w = mset({key_a, key_b}, {"va", "vb"});
  REQUIRE(status(w) == "ok");
  // A plain get deletes nothing.
  REQUIRE(get({key_a, key_b}).elements.size() == 2);
  CHECK(exists(key_a));
  auto r = getdel(key_a);
  REQUIRE(r.elements.size() == 1);
  REQUIRE(r.elements[0].elements.size() == 6);
  CHECK(r.elements[0].elements[0].integer == w.elements.at(1).integer);
  CHECK(r.elements[0].elements[2].str == "va");
  CHECK_FALSE(exists(key_a));
  CHECK(exists(key_b));
  auto again = getdel(key_a);
  REQUIRE(again.elements.size() == 1);
  CHECK(again.elements[0].elements.empty());
}

TEST_CASE_METHOD(state_fixture, "getdel reads a sealed entry whole and leaves it to the daemon") {
  // The daemon deletes a sealed entry by its version only once it could open the value.
  auto sealed = lua.run("state_write", {key_a},
                        {"", "0", "0", next_id(), "", "kek-1", "wrapped-key", "cipher-text"});
  REQUIRE(status(sealed) == "ok");
  auto r = getdel(key_a);
  REQUIRE(r.elements.size() == 1);
  REQUIRE(r.elements[0].elements.size() == 6);
  CHECK(r.elements[0].elements[0].integer == version(sealed));
  CHECK(r.elements[0].elements[3].str == "kek-1");
  CHECK(r.elements[0].elements[4].str == "wrapped-key");
  CHECK(r.elements[0].elements[5].str == "cipher-text");
  CHECK(exists(key_a));
  CHECK(stored_version(key_a) == version(sealed));
  auto gone = del({key_a}, std::to_string(version(sealed)));
  CHECK(status(gone) == "ok");
  CHECK(version(gone) == 1);
}

// -- state_write: conditions -----------------------------------------------------------------

TEST_CASE_METHOD(state_fixture, "IFABSENT writes an absent key and conflicts on a present one") {
  auto first = set("first", "absent");
  REQUIRE(status(first) == "ok");
  auto v1 = version(first);
  auto second = set("second", "absent");
  INFO(second.to_string());
  REQUIRE(second.elements.size() == 2);
  CHECK(status(second) == "conflict");
  CHECK(version(second) == v1);
  // Nothing changed: value, version, write id, expiry.
  CHECK(field(key, "v") == "first");
  CHECK(stored_version(key) == v1);
  CHECK(field(key, "w") == "node-1:run-1:1");
  CHECK(pttl(key) == -1);
}

TEST_CASE_METHOD(state_fixture, "IFVERSION writes on the right version only, 0 meaning absent") {
  // 0 on an absent key writes.
  auto created = set("one", "version", "0");
  REQUIRE(status(created) == "ok");
  auto v1 = version(created);
  // 0 on a present key conflicts.
  auto present = set("x", "version", "0");
  CHECK(status(present) == "conflict");
  CHECK(version(present) == v1);
  // A wrong version conflicts with the current one and changes nothing.
  auto wrong = set("x", "version", std::to_string(v1 - 1), "5000");
  CHECK(status(wrong) == "conflict");
  CHECK(version(wrong) == v1);
  CHECK(status(set("x", "version", std::to_string(v1 + 1))) == "conflict");
  CHECK(field(key, "v") == "one");
  CHECK(stored_version(key) == v1);
  CHECK(pttl(key) == -1);
  // The right version writes.
  auto right = set("two", "version", std::to_string(v1));
  REQUIRE(status(right) == "ok");
  CHECK(version(right) > v1);
  CHECK(field(key, "v") == "two");
  // A version expected of an absent key conflicts with 0.
  auto absent = lua.run("state_write", {key_b},
                        {"version", std::to_string(v1), "0", next_id(), "x", "", "", ""});
  CHECK(status(absent) == "conflict");
  CHECK(version(absent) == 0);
  CHECK_FALSE(exists(key_b));
}

// -- state_write: a write sent again -----------------------------------------------------------

TEST_CASE_METHOD(state_fixture, "a write sent again with its id writes nothing and answers again") {
  const std::string id = "node-1:run-1:write-7";
  auto first = set_as(id, "first", "absent");
  REQUIRE(status(first) == "ok");
  auto v1 = version(first);
  // The same request again (its answer was lost): the first answer, not a conflict.
  auto again = set_as(id, "first", "absent");
  INFO(again.to_string());
  CHECK(status(again) == "ok");
  CHECK(version(again) == v1);
  CHECK(stored_version(key) == v1);
  auto unconditional = set_as(id, "first");
  CHECK(status(unconditional) == "ok");
  CHECK(version(unconditional) == v1);
  CHECK(stored_version(key) == v1);
  // A later request, another id, writes.
  auto later = set_as("node-1:run-1:write-8", "second");
  REQUIRE(status(later) == "ok");
  CHECK(version(later) > v1);
  CHECK(field(key, "v") == "second");
  CHECK(field(key, "w") == "node-1:run-1:write-8");
}

TEST_CASE_METHOD(state_fixture, "a multi-key write sent again answers 0 for keys written since") {
  const std::string id = "node-1:run-1:mset-1";
  auto first = mset({key_a, key_b}, {"a1", "b1"}, id);
  REQUIRE(status(first) == "ok");
  auto vb = first.elements.at(2).integer;
  auto over = mset({key_a}, {"a2"});
  REQUIRE(status(over) == "ok");
  auto again = mset({key_a, key_b}, {"a1", "b1"}, id);
  INFO(again.to_string());
  REQUIRE(again.elements.size() == 3);
  CHECK(status(again) == "ok");
  CHECK(again.elements[1].integer == 0);
  CHECK(again.elements[2].integer == vb);
  // Nothing written: the later value stays, b keeps its version.
  CHECK(field(key_a, "v") == "a2");
  CHECK(stored_version(key_a) == over.elements.at(1).integer);
  CHECK(stored_version(key_b) == vb);
}

// -- state_delete ----------------------------------------------------------------------------

TEST_CASE_METHOD(state_fixture, "a delete without a version deletes every key and counts them") {
  REQUIRE(status(mset({key_a, key_b}, {"a", "b"})) == "ok");
  auto d = del({key_a, key_b, key_c});
  INFO(d.to_string());
  REQUIRE(d.elements.size() == 2);
  CHECK(status(d) == "ok");
  CHECK(version(d) == 2);
  CHECK_FALSE(exists(key_a));
  CHECK_FALSE(exists(key_b));
  auto none = del({key_a});
  CHECK(status(none) == "ok");
  CHECK(version(none) == 0);
}

TEST_CASE_METHOD(state_fixture, "a delete on a version deletes only that version") {
  auto v = version(set("v"));
  // A wrong version conflicts with the current one and deletes nothing.
  auto wrong = del({key}, std::to_string(v - 1));
  CHECK(status(wrong) == "conflict");
  CHECK(version(wrong) == v);
  auto zero = del({key}, "0");
  CHECK(status(zero) == "conflict");
  CHECK(version(zero) == v);
  CHECK(exists(key));
  CHECK(stored_version(key) == v);
  // The right one deletes.
  auto right = del({key}, std::to_string(v));
  CHECK(status(right) == "ok");
  CHECK(version(right) == 1);
  CHECK_FALSE(exists(key));
  // On an absent key a version conflicts with 0; 0 (expected absent, and it is) deletes
  // nothing and is no conflict.
  auto absent = del({key}, std::to_string(v));
  CHECK(status(absent) == "conflict");
  CHECK(version(absent) == 0);
  auto absent_zero = del({key}, "0");
  CHECK(status(absent_zero) == "ok");
  CHECK(version(absent_zero) == 0);
  CHECK_FALSE(exists(key));
}

// -- state_restore ---------------------------------------------------------------------------

TEST_CASE_METHOD(state_fixture, "a restore writes the exact version, ttl and value, twice alike") {
  const std::string recorded = "1700000000000000";
  // Over a newer entry: the export's version wins, as recorded.
  REQUIRE(status(set("newer", "", "0", "0")) == "ok");
  auto restore = [&] {
    return lua.run("state_restore", {key, key_a},
                   {recorded, "60000", "plain", "", "", "", recorded, "0", "forever", "", "", ""});
  };
  auto first = restore();
  INFO(first.to_string());
  REQUIRE(first.kind == resp_value::type::integer);
  CHECK(first.integer == 2);
  auto stored = lua.call({"HGETALL", key}).to_string();
  for (int run = 0; run < 2; ++run) {
    auto r = get({key, key_a});
    REQUIRE(r.elements.size() == 2);
    const auto& e = r.elements[0];
    REQUIRE(e.elements.size() == 6);
    CHECK(e.elements[0].integer == 1700000000000000LL);
    CHECK(e.elements[1].integer > 0);
    CHECK(e.elements[1].integer <= 60000);
    CHECK(e.elements[2].str == "plain");
    CHECK(e.elements[3].str.empty());
    const auto& f = r.elements[1];
    REQUIRE(f.elements.size() == 6);
    CHECK(f.elements[0].integer == 1700000000000000LL);
    CHECK(f.elements[1].integer == -1); // ttl 0: no expiry
    CHECK(f.elements[2].str == "forever");
    CHECK(lua.call({"HGETALL", key}).to_string() == stored);
    // Run again (an import resumed after an interruption): the same entries.
    if (run == 0) {
      REQUIRE(restore().integer == 2);
    }
  }
  // A write after it continues from the restored version.
  auto w = set("after");
  REQUIRE(status(w) == "ok");
  CHECK(version(w) > 1700000000000000LL);
}

TEST_CASE_METHOD(state_fixture, "a restore with ttl 0 removes an expiry the key had") {
  REQUIRE(status(set("v", "", "0", "60000")) == "ok");
  REQUIRE(pttl(key) > 0);
  REQUIRE(lua.run("state_restore", {key}, {"42", "0", "restored", "", "", ""}).integer == 1);
  CHECK(pttl(key) == -1);
  CHECK(stored_version(key) == 42);
  CHECK(field(key, "v") == "restored");
}

TEST_CASE_METHOD(state_fixture, "a sealed restore stores kek, wkey and ct") {
  REQUIRE(status(set("plain")) == "ok");
  auto n =
      lua.run("state_restore", {key}, {"1700000000000001", "0", "", "kek-2", "wrapped", "cipher"});
  REQUIRE(n.integer == 1);
  CHECK(field(key, "kek") == "kek-2");
  CHECK(field(key, "wkey") == "wrapped");
  CHECK(field(key, "ct") == "cipher");
  auto e = entry();
  REQUIRE(e.elements.size() == 6);
  CHECK(e.elements[0].integer == 1700000000000001LL);
  CHECK(e.elements[1].integer == -1);
  CHECK(e.elements[2].str.empty());
  CHECK(e.elements[3].str == "kek-2");
  CHECK(e.elements[4].str == "wrapped");
  CHECK(e.elements[5].str == "cipher");
}
