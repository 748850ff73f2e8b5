// Apps on one host cannot touch each other's state: two real users in the socket's group (each
// an app), and root (an admin). Across uids, a lease's token read from a DENIED does not let
// another app renew or release it, a claim cannot be completed by another app, sessions answer
// NOPERM to every verb but RESUME, a handoff's token reaches only its own app, and the names
// the daemons take for themselves cannot be taken. Within one uid, a second connection may do
// all of it (an app's connection pool).
#include <catch2/catch.hpp>

#include <sys/stat.h>

#include <fstream>
#include <future>
#include <iterator>

#include "tests/integration/secret_fixture.hpp"
#include "tests/support/test_backend.hpp"
#include "tests/support/test_users.hpp"

using namespace baton;
using protocol::resp_client;
using protocol::resp_value;
using test::starts_with;
using test::field;
using test::text_field;
using namespace std::chrono_literals;

namespace {

const std::string apps_group = "baton-apps";

struct two_apps {
  test::test_user a = test::ensure_user("baton-app-a", apps_group);
  test::test_user b = test::ensure_user("baton-app-b", apps_group);
  gid_t group = test::ensure_group(apps_group);
  test::test_backend redis;
  test::temp_dir dir;
  std::string config =
      test::write_secret_config(dir, "s.yaml", "",
                                "socket: {mode: \"0660\", group: " + apps_group +
                                    "}\n"
                                    "membership: {heartbeat_ms: 100, ttl_ms: 1000}\n"
                                    "sessions: {handoff_deadline_ms: 3000}\n");

  std::unique_ptr<test::test_batond> start(const std::string& node) {
    auto d = test::secret_daemon(redis, node, config);
    // The daemon's private directory (mkdtemp: 0700) must let the apps reach the socket; the
    // socket itself is the group's (0660).
    auto socket_dir = d->socket_path().substr(0, d->socket_path().rfind('/'));
    REQUIRE(chmod(socket_dir.c_str(), 0711) == 0);
    return d;
  }
  std::unique_ptr<resp_client> as(const test::test_user& user, const test::test_batond& d) {
    return test::connect_as(user, d.socket_path(), group);
  }
};

} // namespace

TEST_CASE("a lease is its holder's uid's: another app can neither renew nor release it",
          "[portable]") {
  two_apps t;
  auto d = t.start("a");
  auto a = t.as(t.a, *d), a2 = t.as(t.a, *d), b = t.as(t.b, *d);
  resp_client root(d->socket_path());
  REQUIRE(a->call({"CLIENT", "INFO"}).str.find(" uid=" + std::to_string(t.a.uid) + " ") !=
          std::string::npos);

  auto token = field(a->call({"LEASE", "ACQUIRE", "job", "5000", "KEEP"}), "token");
  REQUIRE(token > 0);
  auto t_text = std::to_string(token);
  // Another app hears that it is held, and under which token, but not by whom.
  auto denied = b->call({"LEASE", "ACQUIRE", "job", "5000"});
  INFO(denied.str);
  CHECK(starts_with(denied, "DENIED lease 'job' is held by another user under token " + t_text));
  CHECK(denied.str.find("uid=") == std::string::npos);
  CHECK(denied.str.find("node") == std::string::npos);
  auto seen = b->call({"LEASE", "INFO", "job"});
  CHECK(text_field(seen, "state") == "held");
  CHECK(field(seen, "token") == token);
  CHECK(text_field(seen, "node").empty());
  CHECK(text_field(seen, "client").empty());
  // ... and the token gets it nowhere (the attack the issue reproduced).
  auto release = b->call({"LEASE", "RELEASE", "job", t_text});
  CHECK(starts_with(release, "NOPERM lease 'job' is held by another user"));
  CHECK(starts_with(b->call({"LEASE", "RENEW", "job", t_text, "10"}), "NOPERM"));
  // A wrong token from another app is refused the same way: nothing to learn by guessing.
  CHECK(starts_with(b->call({"LEASE", "RELEASE", "job", "1"}), "NOPERM"));
  CHECK(starts_with(b->call({"LEASE", "RELEASE", "job", t_text, "FORCE"}),
                    "NOPERM uid=" + std::to_string(t.b.uid)));

  // The holder's own uid sees who holds it, and another of its connections may renew it.
  auto own = a2->call({"LEASE", "INFO", "job"});
  CHECK(text_field(own, "node") == "a");
  CHECK(text_field(own, "client").rfind("uid=" + std::to_string(t.a.uid) + " ", 0) == 0);
  auto own_denied = a2->call({"LEASE", "ACQUIRE", "job", "5000"});
  CHECK(own_denied.str.find("uid=" + std::to_string(t.a.uid)) != std::string::npos);
  CHECK(field(a2->call({"LEASE", "RENEW", "job", t_text}), "token") == token);

  // An admin sees everything, and releases another uid's lease only when it says FORCE.
  CHECK(text_field(root.call({"LEASE", "INFO", "job"}), "node") == "a");
  CHECK(starts_with(root.call({"LEASE", "RELEASE", "job", t_text}),
                    "NOPERM lease 'job' is held by another user; only its holder's uid may renew "
                    "or release it (an admin may release it with FORCE)"));
  a->call({"HELLO", "3"}); // the holder takes pushes: it must hear that its lease is gone
  CHECK(root.call({"LEASE", "RELEASE", "job", t_text, "FORCE"}).str == "OK");
  CHECK(root.call({"LEASE", "INFO", "job"}).kind == resp_value::type::null);
  auto lost = a->read();
  REQUIRE(lost.elements.size() >= 3);
  CHECK(lost.elements[0].str == "lease");
  CHECK(lost.elements[1].str == "lost");
  CHECK(lost.elements[2].str == "job");
  CHECK(starts_with(a->call({"LEASE", "RENEW", "job", t_text}), "LOST"));
}

TEST_CASE("a lease's watchers of another app hear it change hands, not where it is held",
          "[portable]") {
  two_apps t;
  auto d = t.start("a");
  auto holder = t.as(t.a, *d), own = t.as(t.a, *d), other = t.as(t.b, *d);
  resp_client admin(d->socket_path());
  for (auto* c : {own.get(), other.get(), &admin}) {
    c->call({"HELLO", "3"});
    REQUIRE(c->call({"LEASE", "WATCH", "job"}).integer == 1);
  }
  auto token = field(holder->call({"LEASE", "ACQUIRE", "job", "5000"}), "token");
  REQUIRE(holder->call({"LEASE", "RELEASE", "job", std::to_string(token)}).str == "OK");
  // Each push: lease <event> <name> <token> <node>.
  for (auto event : {"acquired", "released"}) {
    INFO(event);
    for (auto* c : {own.get(), &admin}) {
      auto push = c->read();
      REQUIRE(push.elements.size() == 5);
      CHECK(push.elements[1].str == event);
      CHECK(push.elements[3].integer == token);
      CHECK(push.elements[4].str == "a");
    }
    auto seen = other->read();
    REQUIRE(seen.elements.size() == 5);
    CHECK(seen.elements[1].str == event);
    CHECK(seen.elements[3].integer == token);
    CHECK(seen.elements[4].str.empty());
  }
}

TEST_CASE("the daemons' own lease names cannot be taken, renewed or released by an app",
          "[portable]") {
  two_apps t;
  auto d = t.start("a");
  auto a = t.as(t.a, *d), b = t.as(t.b, *d);
  resp_client root(d->socket_path());
  for (const std::string name : {"secret-rotation/db", "session-adopt/a", "elect:jobs"}) {
    INFO(name);
    auto taken = a->call({"LEASE", "ACQUIRE", name, "5000"});
    CHECK(starts_with(taken, "NOPERM lease names starting with '"));
    CHECK(starts_with(root.call({"LEASE", "ACQUIRE", name, "5000"}), "NOPERM")); // admins too
    CHECK(starts_with(a->call({"LEASE", "RELEASE", name, "1"}), "NOPERM"));
    CHECK(starts_with(a->call({"LEASE", "RENEW", name, "1"}), "NOPERM"));
    CHECK(a->call({"LEASE", "INFO", name}).kind == resp_value::type::null); // readable
  }
  // An election's term is its lease's token: another app cannot release it through LEASE, and
  // RESIGN is by connection.
  auto term = field(a->call({"ELECT", "JOIN", "jobs", "a-1"}), "term");
  REQUIRE(term > 0);
  CHECK(starts_with(b->call({"LEASE", "RELEASE", "elect:jobs", std::to_string(term)}), "NOPERM"));
  CHECK(starts_with(b->call({"ELECT", "RESIGN", "jobs"}), "NOTHELD"));
  // The leader is public to the group: who leads is what an election is for.
  CHECK(text_field(b->call({"ELECT", "LEADER", "jobs"}), "candidate") == "a-1");
  CHECK(field(a->call({"ELECT", "LEADER", "jobs"}), "term") == term);
}

TEST_CASE("a claim is completed only by the uid that claimed it", "[portable]") {
  two_apps t;
  auto d = t.start("a");
  auto a = t.as(t.a, *d), a2 = t.as(t.a, *d), b = t.as(t.b, *d);
  CHECK(text_field(a->call({"DEDUP", "CLAIM", "order-7", "10000"}), "status") == "new");
  auto done = b->call({"DEDUP", "DONE", "order-7", "forged"});
  CHECK(starts_with(done, "NOPERM the claim on this key is another user's"));
  CHECK(text_field(b->call({"DEDUP", "GET", "order-7"}), "status") == "pending");
  CHECK(a2->call({"DEDUP", "DONE", "order-7", "receipt-1"}).str == "OK");
  auto got = b->call({"DEDUP", "GET", "order-7"});
  CHECK(text_field(got, "status") == "done");
  CHECK(text_field(got, "result") == "receipt-1");
}

TEST_CASE("a session is its opener's uid's: every verb but RESUME refuses another app",
          "[portable]") {
  two_apps t;
  auto d = t.start("a");
  auto a = t.as(t.a, *d), a2 = t.as(t.a, *d), b = t.as(t.b, *d);
  resp_client root(d->socket_path());
  auto opened = a->call({"SESSION", "OPEN", "alice", "60000"});
  auto id = text_field(opened, "id");
  REQUIRE(id.size() == 32);
  REQUIRE(field(a->call({"SESSION", "STATE", id, "SET", "cart=3"}), "state_version") == 1);

  for (const auto& verb :
       std::vector<std::vector<std::string>>{{"SESSION", "GET", id},
                                             {"SESSION", "TOUCH", id},
                                             {"SESSION", "STATE", id},
                                             {"SESSION", "STATE", id, "SET", "cart=0"},
                                             {"SESSION", "CLOSE", id}}) {
    auto refused = b->call(verb);
    INFO(verb[1] << " " << refused.str);
    CHECK(starts_with(refused, "NOPERM the session is another user's"));
  }
  CHECK(b->call({"SESSION", "LIST", "alice"}).elements.empty());
  // Even with the token (had it leaked), another app cannot take the session over.
  CHECK(starts_with(b->call({"SESSION", "RESUME", text_field(opened, "token")}),
                    "NOPERM the session is another user's"));
  // Nothing changed: same state version, still open.
  CHECK(field(a2->call({"SESSION", "STATE", id}), "state_version") == 1);
  CHECK(text_field(a2->call({"SESSION", "GET", id}), "user") == "alice");
  CHECK(a2->call({"SESSION", "LIST", "alice"}).elements.size() == 1);
  CHECK(a2->call({"SESSION", "TOUCH", id}).kind != resp_value::type::error);

  // An admin may look and close (an operator's kick), never read the state.
  CHECK(text_field(root.call({"SESSION", "GET", id}), "user") == "alice");
  CHECK(root.call({"SESSION", "LIST", "alice"}).elements.size() == 1);
  CHECK(starts_with(root.call({"SESSION", "STATE", id}), "NOPERM"));
  CHECK(root.call({"SESSION", "CLOSE", id}).integer == 1);
  CHECK(a->call({"SESSION", "GET", id}).kind == resp_value::type::null);
}

TEST_CASE("a drain's handoff-out carries a session's token only to its own app", "[portable]") {
  two_apps t;
  auto da = t.start("a");
  auto db = t.start("b");
  auto opener = t.as(t.a, *da);
  auto id = text_field(opener->call({"SESSION", "OPEN", "alice", "60000"}), "id");
  REQUIRE(id.size() == 32);
  // Watchers on a: the opener's app, another app (by WATCH and by SUBSCRIBE), and an admin.
  auto own = t.as(t.a, *da), other = t.as(t.b, *da), other_sub = t.as(t.b, *da);
  resp_client admin(da->socket_path());
  for (auto* c : {own.get(), other.get(), &admin}) {
    c->call({"HELLO", "3"});
    REQUIRE(c->call({"SESSION", "WATCH"}).integer == 1);
  }
  other_sub->call({"HELLO", "3"});
  REQUIRE(other_sub->call({"SUBSCRIBE", "sessions"}).kind != resp_value::type::error);
  REQUIRE(test::eventually([&] {
    return text_field(admin.call({"NODE", "INFO", "b"}), "state") == "active";
  }));

  auto drain = std::async(std::launch::async, [&] {
    resp_client drainer(da->socket_path());
    return drainer.call({"NODE", "DRAIN"});
  });
  auto mine = own->read();
  REQUIRE(mine.elements.size() == 6);
  CHECK(mine.elements[1].str == "handoff-out");
  CHECK(mine.elements[2].str == id);
  auto token = mine.elements[5].str;
  CHECK(token.rfind("v1." + id + ".", 0) == 0);
  auto seen_by_admin = admin.read();
  CHECK(seen_by_admin.elements.size() == 5); // that it moved, and where; not the token
  CHECK(seen_by_admin.elements.at(2).str == id);
  drain.get();
  // The other app heard nothing: the pushes went out together, so a reply to a PING sent now
  // comes after anything that was pushed to it.
  for (auto* c : {other.get(), other_sub.get()}) {
    c->send({"PING"});
    auto next = c->read();
    CHECK(next.str == "PONG");
  }
  // The opener's app resumes on b with its token.
  auto on_b = t.as(t.a, *db);
  CHECK(text_field(on_b->call({"SESSION", "RESUME", token}), "owner") == "b");
}

TEST_CASE("deploy/baton.apps.yaml denies by default and gives each app its own names",
          "[portable]") {
  test::ensure_group("baton");
  test::ensure_group("baton-ops");
  test::ensure_user("billing-app", "baton");
  test::ensure_user("search-app", "baton");
  auto path = std::string(BATON_SOURCE_DIR) + "/deploy/baton.apps.yaml";
  std::string out;
  CHECK(test::test_batond::run_to_exit({"--check-config", path}, &out) == 0);
  INFO(out);
  // The rules as the daemon reads them, on a daemon of this host.
  two_apps t;
  auto d = test::secret_daemon(t.redis, "a", [&] {
    std::ifstream in(path);
    std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    // Keep the apps' section, on this test's socket and with its KEK.
    text = text.substr(text.find("access:"));
    return test::write_secret_config(t.dir, "apps.yaml", "", "socket: {mode: \"0666\"}\n" + text);
  }());
  auto socket_dir = d->socket_path().substr(0, d->socket_path().rfind('/'));
  REQUIRE(chmod(socket_dir.c_str(), 0711) == 0);
  auto billing = test::connect_as(test::ensure_user("billing-app"), d->socket_path());
  auto search = test::connect_as(test::ensure_user("search-app"), d->socket_path());
  auto stranger = t.as(t.a, *d);
  CHECK(field(billing->call({"LEASE", "ACQUIRE", "billing/nightly", "5000"}), "token") > 0);
  CHECK(starts_with(billing->call({"LEASE", "ACQUIRE", "search/nightly", "5000"}), "NOPERM"));
  CHECK(starts_with(billing->call({"LEASE", "LIST"}), "NOPERM"));
  CHECK(billing->call({"NODE", "LIST"}).kind == resp_value::type::array);
  CHECK(field(search->call({"LEASE", "ACQUIRE", "search/nightly", "5000"}), "token") > 0);
  CHECK(starts_with(search->call({"DEDUP", "CLAIM", "search/1", "5000"}), "NOPERM"));
  CHECK(starts_with(stranger->call({"LEASE", "ACQUIRE", "anything", "5000"}), "NOPERM"));
  CHECK(stranger->call({"PING"}).str == "PONG");
}
