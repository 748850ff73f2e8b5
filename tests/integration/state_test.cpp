// STATE through real batond processes against real Redis (a single server, or a Cluster when
// the [portable] cases run under BATON_TEST_REDIS=cluster): entries written on one daemon are
// read on another with their versions, compare-and-set lets one of two writers win, a batch
// over many slots is read and deleted whole, SCAN's pages list every key once the cursor is
// back at 0, a sealed namespace keeps no plaintext in Redis, a namespace's readers and writers
// are enforced per uid, and a paused Redis gets a clear answer and no half-done write.
#include <catch2/catch.hpp>

#include <sys/stat.h>

#include <fstream>
#include <set>

#include "protocol/resp_client.hpp"
#include "tests/integration/secret_fixture.hpp"
#include "tests/support/reply_fields.hpp"
#include "tests/support/test_backend.hpp"
#include "tests/support/test_batond.hpp"
#include "tests/support/test_users.hpp"

using namespace baton;
using protocol::resp_client;
using protocol::resp_value;
using test::starts_with;
using test::field;
using test::text_field;

namespace {

const char* namespaces = R"(state:
  namespaces:
    - {name: orders}
    - {name: carts, default_ttl_ms: 60000}
)";

std::string write_config(const test::temp_dir& dir, const std::string& text) {
  auto path = dir.file("state.yaml");
  std::ofstream(path) << text;
  return path;
}

/// Every key SCAN lists, page by page until the cursor is 0.
std::set<std::string> scan_all(resp_client& c, const std::string& ns, const std::string& prefix,
                               int* pages = nullptr) {
  std::set<std::string> keys;
  std::string cursor = "0";
  int n = 0;
  do {
    auto page = c.call({"STATE", "SCAN", ns, prefix, "CURSOR", cursor, "COUNT", "20"});
    REQUIRE(page.elements.size() == 2);
    for (const auto& k : page.elements[1].elements)
      keys.insert(k.str);
    cursor = page.elements[0].str;
    ++n;
  } while (cursor != "0" && n < 100000);
  if (pages) *pages = n;
  return keys;
}

} // namespace

TEST_CASE("STATE on two daemons: versions, compare-and-set, batches over slots, SCAN pages",
          "[portable]") {
  test::test_backend redis;
  test::temp_dir dir;
  auto config = write_config(dir, namespaces);
  test::test_batond a(redis.url(), {"--node-id", "a", "--config", config});
  test::test_batond b(redis.url(), {"--node-id", "b", "--config", config});
  resp_client ca(a.socket_path()), cb(b.socket_path());

  // Written on a, read on b, with the version the write answered.
  auto v1 = ca.call({"STATE", "SET", "orders", "o-1", "pending"});
  REQUIRE(v1.kind == resp_value::type::integer);
  auto got = cb.call({"STATE", "GET", "orders", "o-1"});
  CHECK(text_field(got, "value") == "pending");
  CHECK(field(got, "version") == v1.integer);
  CHECK(field(got, "ttl_ms") == -1);

  // Two writers read the same version; the first compare-and-set wins, the second is told the
  // version that beat it, and nothing of its write lands.
  auto seen = std::to_string(v1.integer);
  auto won = ca.call({"STATE", "SET", "orders", "o-1", "paid", "IFVERSION", seen});
  REQUIRE(won.kind == resp_value::type::integer);
  CHECK(won.integer > v1.integer);
  auto lost = cb.call({"STATE", "SET", "orders", "o-1", "cancelled", "IFVERSION", seen});
  INFO(lost.str);
  CHECK(starts_with(lost, "CONFLICT the key is at version " + std::to_string(won.integer)));
  CHECK(text_field(cb.call({"STATE", "GET", "orders", "o-1"}), "value") == "paid");
  CHECK(starts_with(cb.call({"STATE", "SET", "orders", "o-1", "x", "IFABSENT"}), "CONFLICT"));
  CHECK(cb.call({"STATE", "DEL", "orders", "o-1", "IFVERSION", seen}).str.rfind("CONFLICT", 0) ==
        0);
  CHECK(cb.call({"STATE", "DEL", "orders", "o-1", "IFVERSION", std::to_string(won.integer)})
            .integer == 1);
  // Deleting "only if absent" of an absent key deletes nothing, and is no conflict.
  CHECK(cb.call({"STATE", "DEL", "orders", "o-1", "IFVERSION", "0"}).integer == 0);
  // Written again after its delete, the key's version is past every one it had (no ABA).
  auto again = ca.call({"STATE", "SET", "orders", "o-1", "new", "IFVERSION", "0"});
  CHECK(again.integer > won.integer);

  // A batch of 300 keys, over many slots on a Cluster: written on a, read whole on b.
  std::vector<std::string> mset{"STATE", "MSET", "orders"};
  std::vector<std::string> mget{"STATE", "MGET", "orders"};
  for (int i = 0; i < 300; ++i) {
    mset.push_back("item-" + std::to_string(i));
    mset.push_back("value-" + std::to_string(i));
    mget.push_back("item-" + std::to_string(i));
  }
  mget.push_back("never-written");
  auto versions = ca.call(mset);
  REQUIRE(versions.elements.size() == 300);
  auto values = cb.call(mget);
  REQUIRE(values.elements.size() == 301);
  int right = 0;
  for (int i = 0; i < 300; ++i)
    right += text_field(values.elements[i], "value") == "value-" + std::to_string(i) &&
             field(values.elements[i], "version") == versions.elements[i].integer;
  CHECK(right == 300);
  CHECK(values.elements[300].kind == resp_value::type::null);

  // SCAN lists each of them, and only them, by pages of 20 looked at.
  int pages = 0;
  auto listed = scan_all(cb, "orders", "item-", &pages);
  CHECK(listed.size() == 300);
  CHECK(pages > 1);
  CHECK(listed.count("o-1") == 0);
  CHECK(cb.call({"STATE", "COUNT", "orders"}).integer == 301);
  CHECK(cb.call({"STATE", "COUNT", "carts"}).integer == 0);

  // The namespace's default TTL applies to a SET without one.
  ca.call({"STATE", "SET", "carts", "c-1", "3 items"});
  auto ttl = cb.call({"STATE", "TTL", "carts", "c-1"});
  CHECK(ttl.integer > 50000);
  CHECK(ttl.integer <= 60000);

  std::vector<std::string> mdel{"STATE", "MDEL", "orders"};
  mdel.insert(mdel.end(), mget.begin() + 3, mget.end());
  CHECK(ca.call(mdel).integer == 300);
  CHECK(scan_all(cb, "orders", "item-").empty());
  CHECK(cb.call({"STATE", "EXISTS", "orders", "o-1"}).integer == 1);
}

TEST_CASE("a sealed namespace keeps no plaintext in Redis and reads back on another daemon") {
  test::test_redis redis;
  test::temp_dir dir;
  auto config = test::write_secret_config(dir, "s.yaml",
                                          "state:\n  namespaces:\n    - {name: vault, encrypt: "
                                          "true}\n");
  auto a = test::secret_daemon(redis, "a", config);
  auto b = test::secret_daemon(redis, "b", config);
  resp_client ca(a->socket_path()), cb(b->socket_path()), direct(redis.socket_path());
  const std::string plain = "card 4111-1111-1111-1111";
  REQUIRE(ca.call({"STATE", "SET", "vault", "user-7", plain}).kind == resp_value::type::integer);
  CHECK(text_field(cb.call({"STATE", "GET", "vault", "user-7"}), "value") == plain);
  auto raw = direct.call({"HGETALL", "baton:state:vault:{user-7}"});
  REQUIRE(raw.elements.size() >= 8);
  for (const auto& f : raw.elements)
    CHECK(f.str.find("4111") == std::string::npos);
  CHECK(direct.call({"HGET", "baton:state:vault:{user-7}", "v"}).str.empty());
  // A sealed value copied to another key does not open as that key's value.
  direct.call({"COPY", "baton:state:vault:{user-7}", "baton:state:vault:{user-8}"});
  auto moved = cb.call({"STATE", "GET", "vault", "user-8"});
  INFO(moved.str);
  CHECK(starts_with(moved, "ERR the value of 'user-8' cannot be opened"));
  // GETDEL of a value that does not open says so and deletes nothing.
  CHECK(starts_with(cb.call({"STATE", "GETDEL", "vault", "user-8"}), "ERR the value of 'user-8'"));
  CHECK(cb.call({"STATE", "EXISTS", "vault", "user-8"}).integer == 1);
  // GETDEL of one that opens reads it and deletes it.
  CHECK(text_field(ca.call({"STATE", "GETDEL", "vault", "user-7"}), "value") == plain);
  CHECK(cb.call({"STATE", "EXISTS", "vault", "user-7"}).integer == 0);
}

TEST_CASE("a namespace's writers write, its readers read, and only admins clear it") {
  auto a = test::ensure_user("baton-app-a", "baton-apps");
  auto b = test::ensure_user("baton-app-b", "baton-apps");
  auto group = test::ensure_group("baton-apps");
  test::test_redis redis;
  test::temp_dir dir;
  auto config = write_config(dir, R"(socket: {mode: "0660", group: baton-apps}
state:
  namespaces:
    - name: ledger
      writers: {users: [baton-app-a]}
      readers: {users: [baton-app-b]}
    - name: inbox
      readers: {users: [baton-app-a]}
    - {name: scratch}
)");
  test::test_batond d(redis.unix_url(), {"--node-id", "a", "--config", config});
  auto socket_dir = d.socket_path().substr(0, d.socket_path().rfind('/'));
  REQUIRE(chmod(socket_dir.c_str(), 0711) == 0);
  auto writer = test::connect_as(a, d.socket_path(), group);
  auto reader = test::connect_as(b, d.socket_path(), group);
  resp_client root(d.socket_path());

  REQUIRE(writer->call({"STATE", "SET", "ledger", "entry-1", "100"}).kind ==
          resp_value::type::integer);
  CHECK(text_field(reader->call({"STATE", "GET", "ledger", "entry-1"}), "value") == "100");
  CHECK(text_field(writer->call({"STATE", "GET", "ledger", "entry-1"}), "value") == "100");
  for (auto write : std::vector<std::vector<std::string>>{
           {"STATE", "SET", "ledger", "entry-1", "0"},
           {"STATE", "DEL", "ledger", "entry-1"},
           {"STATE", "GETDEL", "ledger", "entry-1"},
           {"STATE", "MSET", "ledger", "entry-2", "5"},
           {"STATE", "CLEAR", "ledger"}}) {
    auto refused = reader->call(write);
    INFO(write[1] << ": " << refused.str);
    CHECK(starts_with(refused, "NOPERM"));
  }
  CHECK(text_field(root.call({"STATE", "GET", "ledger", "entry-1"}), "value") == "100");
  CHECK(starts_with(writer->call({"STATE", "CLEAR", "ledger"}), "NOPERM")); // admins only
  // Anyone may drop a message into the inbox; only its reader takes one out: GETDEL reads.
  CHECK(reader->call({"STATE", "SET", "inbox", "m-1", "hello"}).kind == resp_value::type::integer);
  CHECK(starts_with(reader->call({"STATE", "GETDEL", "inbox", "m-1"}), "NOPERM"));
  CHECK(starts_with(reader->call({"STATE", "GET", "inbox", "m-1"}), "NOPERM"));
  CHECK(text_field(writer->call({"STATE", "GETDEL", "inbox", "m-1"}), "value") == "hello");
  // A namespace without readers or writers is every app's the access rules let in.
  CHECK(reader->call({"STATE", "SET", "scratch", "k", "v"}).kind == resp_value::type::integer);
  CHECK(root.call({"STATE", "CLEAR", "ledger"}).integer == 1);
  CHECK(reader->call({"STATE", "GET", "ledger", "entry-1"}).kind == resp_value::type::null);
}

TEST_CASE("with Redis paused a write answers UNKNOWN in time, and lands once when it resumes") {
  test::test_redis redis;
  test::temp_dir dir;
  auto config = write_config(dir, std::string(namespaces) + "redis: {call_timeout_ms: 300}\n");
  test::test_batond d(redis.unix_url(), {"--node-id", "a", "--config", config});
  resp_client c(d.socket_path());
  auto before = c.call({"STATE", "SET", "orders", "o-9", "v1"});
  REQUIRE(before.kind == resp_value::type::integer);
  redis.pause();
  auto start = std::chrono::steady_clock::now();
  auto write = c.call({"STATE", "SET", "orders", "o-9", "v2", "IFVERSION",
                       std::to_string(before.integer)});
  auto read = c.call({"STATE", "GET", "orders", "o-9"});
  auto took = std::chrono::steady_clock::now() - start;
  redis.resume();
  INFO(write.str << " / " << read.str);
  CHECK(starts_with(write, "UNKNOWN"));
  CHECK(starts_with(read, "UNAVAILABLE"));
  CHECK(took < std::chrono::seconds(4));
  // Both attempts of the write ran once Redis woke; the second found the first's id and wrote
  // nothing, so the version is the first's and a compare-and-set on it succeeds. (The link's
  // breaker may still be open for a moment after the pause: reads wait until it answers.)
  resp_value after;
  REQUIRE(test::eventually([&] {
    after = c.call({"STATE", "GET", "orders", "o-9"});
    return !after.is_error();
  }, 10000));
  CHECK(text_field(after, "value") == "v2");
  auto version = field(after, "version");
  CHECK(version > before.integer);
  CHECK(c.call({"STATE", "SET", "orders", "o-9", "v3", "IFVERSION", std::to_string(version)})
            .kind == resp_value::type::integer);
  CHECK(c.call({"PING"}).str == "PONG");
}

TEST_CASE("STATE's bad input gets a clear error and changes nothing") {
  test::test_redis redis;
  test::temp_dir dir;
  auto config = write_config(dir, R"(state:
  max_key_length: 16
  max_batch_keys: 3
  namespaces:
    - {name: small, max_value_bytes: 8, max_ttl_ms: 10000}
)");
  test::test_batond d(redis.unix_url(), {"--node-id", "a", "--config", config});
  resp_client c(d.socket_path());
  auto error = [&](std::vector<std::string> args, const std::string& start) {
    auto r = c.call(args);
    INFO(args[1] << ": " << r.str);
    CHECK(starts_with(r, start));
  };
  error({"STATE", "GET", "nope", "k"}, "ERR unknown state namespace 'nope'");
  error({"STATE", "SET", "small", "k", "123456789"}, "ERR the value is 9 bytes");
  error({"STATE", "SET", "small", std::string(17, 'k'), "v"}, "ERR a state key must be 1 to 16");
  error({"STATE", "SET", "small", "", "v"}, "ERR a state key must be 1 to 16");
  error({"STATE", "SET", "small", "k", "v", "TTL", "20000"}, "ERR TTL must be 1 to 10000");
  error({"STATE", "SET", "small", "k", "v", "TTL", "-5"}, "ERR TTL must be");
  error({"STATE", "SET", "small", "k", "v", "IFVERSION", "x"}, "ERR IFVERSION takes a version");
  error({"STATE", "SET", "small", "k", "v", "IFABSENT", "IFVERSION", "1"}, "ERR syntax error");
  error({"STATE", "SET", "small", "k", "v", "BOGUS"}, "ERR syntax error at 'BOGUS'");
  error({"STATE", "MSET", "small", "a", "1", "b"}, "ERR wrong number of arguments");
  error({"STATE", "MSET", "small", "a", "1", "a", "2"}, "ERR a key is named twice");
  error({"STATE", "MGET", "small", "a", "b", "c", "d"}, "ERR 4 keys in one request; at most 3");
  error({"STATE", "DEL", "small", "k", "IFVERSION"}, "ERR syntax error");
  error({"STATE", "SCAN", "small", "CURSOR", "zz"}, "ERR not a cursor: 'zz'");
  error({"STATE", "SCAN", "small", "COUNT", "0"}, "ERR COUNT must be 1 to");
  error({"STATE", "RESTORE", "small", "k", "v", "0", "0"}, "ERR a version is an integer from 1");
  // Past 2^53 a version would not be exact in the scripts' numbers (nor in JavaScript).
  error({"STATE", "RESTORE", "small", "k", "v", "9007199254740993", "0"},
        "ERR a version is an integer from 1 to 2^53-1");
  error({"STATE", "SET", "small", "k", "v", "IFVERSION", "9007199254740992"},
        "ERR IFVERSION takes a version");
  error({"STATE", "GET", "small"}, "ERR wrong number of arguments");
  error({"STATE", "FROB", "small", "k"}, "ERR unknown subcommand");
  CHECK(c.call({"STATE", "COUNT", "small"}).integer == 0);
  CHECK(c.call({"PING"}).str == "PONG");
}
