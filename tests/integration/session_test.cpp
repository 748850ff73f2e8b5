// Sessions through real daemons on a real redis-server: open, read, touch, list, state
// (owner-only, encrypted at rest), close; a drain that hands every session to the other
// daemons, the clients resuming with the tokens the handoff-out pushes carry; resume tokens
// that are forged, replayed or outlived refused; draining nodes refusing OPEN; bad input.
#include <catch2/catch.hpp>

#include <atomic>
#include <fstream>
#include <future>
#include <map>
#include <set>
#include <thread>

#include "tests/integration/secret_fixture.hpp"

using namespace baton;
using protocol::resp_client;
using protocol::resp_value;
using test::field;
using test::text_field;
using namespace std::chrono_literals;

namespace {

// `Redis`: a test_redis of the test's own, or a test_backend (its own or the cluster).
template <class Redis>
std::unique_ptr<test::test_batond> session_daemon(const Redis& redis, const std::string& node,
                                                  const std::string& config) {
  return test::secret_daemon(redis, node, config);
}

std::string config_for(const test::temp_dir& dir) {
  return test::write_secret_config(dir, "s.yaml", "",
                                   "membership: {heartbeat_ms: 100, ttl_ms: 1000}\n"
                                   "sessions: {handoff_deadline_ms: 3000}\n");
}

} // namespace

TEST_CASE("sessions: open, get, touch, list, owner-only encrypted state, close") {
  test::test_redis redis;
  test::temp_dir dir;
  auto config = config_for(dir);
  auto a = session_daemon(redis, "a", config);
  auto b = session_daemon(redis, "b", config);
  resp_client ca(a->socket_path()), cb(b->socket_path());
  auto opened = ca.call({"SESSION", "OPEN", "alice", "60000", "META", "{\"device\":\"ios\"}"});
  auto id = text_field(opened, "id");
  REQUIRE(id.size() == 32);
  CHECK(text_field(opened, "token").rfind("v1." + id + ".1.", 0) == 0);
  CHECK(text_field(opened, "owner") == "a");
  auto second = text_field(cb.call({"SESSION", "OPEN", "alice"}), "id");
  CHECK(second != id);

  auto got = cb.call({"SESSION", "GET", id});
  CHECK(text_field(got, "user") == "alice");
  CHECK(text_field(got, "owner") == "a");
  CHECK(text_field(got, "meta") == "{\"device\":\"ios\"}");
  CHECK(field(got, "ttl_ms") == 60000);
  CHECK(field(cb.call({"SESSION", "GET", second}), "ttl_ms") == 24 * 3600 * 1000);
  CHECK(text_field(cb.call({"SESSION", "TOUCH", id}), "owner") == "a");
  auto listed = cb.call({"SESSION", "LIST", "alice"});
  REQUIRE(listed.elements.size() == 2);
  std::set<std::string> listed_ids = {text_field(listed.elements[0], "id"),
                                      text_field(listed.elements[1], "id")};
  CHECK(listed_ids == std::set<std::string>{id, second});
  // Oldest first (two opened in the same millisecond may come either way).
  CHECK(field(listed.elements[0], "created_ms") <= field(listed.elements[1], "created_ms"));
  CHECK(cb.call({"SESSION", "LIST", "bob"}).elements.empty());

  // State: written by the owner only, sealed in Redis, readable anywhere.
  CHECK(field(ca.call({"SESSION", "STATE", id, "SET", "cart=3 items"}), "state_version") == 1);
  CHECK(cb.call({"SESSION", "STATE", id, "SET", "cart=0"})
            .str.rfind("MOVED the session is owned by node a", 0) == 0);
  auto state = cb.call({"SESSION", "STATE", id});
  CHECK(text_field(state, "state") == "cart=3 items");
  CHECK(field(state, "state_version") == 1);
  resp_client raw(redis.socket_path());
  auto stored = raw.call({"HGETALL", "baton:session:{" + id + "}"}).to_string();
  CHECK(stored.find("cart=3") == std::string::npos);
  CHECK(cb.call({"SESSION", "STATE", second}).elements.size() == 4); // version 0, nil state

  CHECK(cb.call({"SESSION", "CLOSE", id}).integer == 1);
  CHECK(ca.call({"SESSION", "GET", id}).kind == resp_value::type::null);
  CHECK(ca.call({"SESSION", "CLOSE", id}).integer == 0);
  CHECK(ca.call({"SESSION", "RESUME", text_field(opened, "token")}).str ==
        "REFUSED the session is closed or expired");
  CHECK(ca.call({"SESSION", "LIST", "alice"}).elements.size() == 1);
}

TEST_CASE("resume tokens: once per handoff, never forged, replayed or after expiry", "[portable]") {
  test::test_backend redis;
  test::temp_dir dir;
  auto config = config_for(dir);
  auto a = session_daemon(redis, "a", config);
  auto b = session_daemon(redis, "b", config);
  resp_client ca(a->socket_path()), cb(b->socket_path());
  auto opened = ca.call({"SESSION", "OPEN", "carol", "2000"});
  auto id = text_field(opened, "id");
  auto token = text_field(opened, "token");
  ca.call({"SESSION", "STATE", id, "SET", "step=7"});

  auto forged = token;
  forged.back() = forged.back() == '0' ? '1' : '0';
  CHECK(cb.call({"SESSION", "RESUME", forged}).str ==
        "REFUSED the token's signature does not match (forged or damaged)");
  auto other_epoch = token;
  other_epoch.replace(3 + 32 + 1, 1, "2"); // claims epoch 2: the signature no longer matches
  CHECK(cb.call({"SESSION", "RESUME", other_epoch}).str.rfind("REFUSED the token's signature", 0) ==
        0);
  CHECK(cb.call({"SESSION", "RESUME", "hello"}).str == "REFUSED not a resume token");

  auto resumed = cb.call({"SESSION", "RESUME", token});
  CHECK(text_field(resumed, "id") == id);
  CHECK(text_field(resumed, "user") == "carol");
  CHECK(text_field(resumed, "state") == "step=7");
  CHECK(text_field(resumed, "owner") == "b"); // resuming on b made b the owner
  CHECK(field(resumed, "epoch") == 2);
  CHECK(cb.call({"SESSION", "RESUME", token}).str ==
        "REFUSED the token was used already, or a newer handoff replaced it");
  // The new owner writes; the old one is fenced out.
  CHECK(field(cb.call({"SESSION", "STATE", id, "SET", "step=8"}), "state_version") == 2);
  CHECK(ca.call({"SESSION", "STATE", id, "SET", "step=9"}).str.rfind("MOVED", 0) == 0);
  // The token from RESUME works (once), until the session expires (ttl 2 s, not touched).
  auto next = text_field(resumed, "token");
  std::this_thread::sleep_for(2200ms);
  CHECK(ca.call({"SESSION", "RESUME", next}).str == "REFUSED the session is closed or expired");
}

TEST_CASE("a drain hands every session to the active daemons and the clients resume there",
          "[portable]") {
  test::test_backend redis;
  test::temp_dir dir;
  auto config = config_for(dir);
  auto a = session_daemon(redis, "a", config);
  auto b = session_daemon(redis, "b", config);
  auto c = session_daemon(redis, "c", config);
  std::map<std::string, std::string> sockets = {
      {"a", a->socket_path()}, {"b", b->socket_path()}, {"c", c->socket_path()}};
  resp_client ca(a->socket_path());
  constexpr int count = 60;
  std::map<std::string, std::string> state_of;
  for (int i = 0; i < count; ++i) {
    auto id = text_field(ca.call({"SESSION", "OPEN", "user-" + std::to_string(i)}), "id");
    auto state = "state-" + std::to_string(i);
    REQUIRE(field(ca.call({"SESSION", "STATE", id, "SET", state}), "state_version") == 1);
    state_of[id] = state;
  }
  CHECK(test::eventually(
      [&] {
        return field(ca.call({"NODE", "INFO"}), "sessions") == count;
      },
      3000));
  // The app on a watches (RESP3 pushes); so do the apps on b and c.
  resp_client app_a(a->socket_path()), app_b(b->socket_path()), app_c(c->socket_path());
  for (auto* app : {&app_a, &app_b, &app_c}) {
    app->call({"HELLO", "3"});
    REQUIRE(app->call({"SESSION", "WATCH"}).integer == 1);
  }
  // Drain a; meanwhile a's app relays each handoff-out to its client, which resumes on the
  // target with the new token and finds its state.
  auto drain = std::async(std::launch::async, [&] {
    resp_client admin(a->socket_path());
    return admin.call({"NODE", "DRAIN", "WAIT"});
  });
  std::map<std::string, int> moved_to;
  int resumed_with_state = 0;
  for (int i = 0; i < count; ++i) {
    auto push = app_a.read();
    REQUIRE(push.elements.size() == 6);
    REQUIRE(push.elements[1].str == "handoff-out");
    const auto& id = push.elements[2].str;
    const auto& target = push.elements[3].str;
    ++moved_to[target];
    resp_client client(sockets.at(target));
    auto r = client.call({"SESSION", "RESUME", push.elements[5].str});
    if (text_field(r, "id") == id && text_field(r, "state") == state_of[id] &&
        text_field(r, "owner") == target)
      ++resumed_with_state;
  }
  auto report = drain.get();
  CHECK(resumed_with_state == count);
  CHECK(field(report, "sessions") == count);
  CHECK(field(report, "moved") == count);
  CHECK(field(report, "resumed") == count);
  CHECK(field(report, "failed") == 0);
  CHECK(moved_to["b"] == count / 2); // spread evenly
  CHECK(moved_to["c"] == count / 2);
  CHECK(moved_to.count("a") == 0);
  // b's and c's apps heard handoff-in for what came to them.
  int handoff_in = 0;
  for (auto* app : {&app_b, &app_c})
    for (int i = 0; i < count / 2; ++i)
      if (app->read().elements.at(1).str == "handoff-in") ++handoff_in;
  CHECK(handoff_in == count);
  // A draining node refuses new sessions and names an active one.
  auto refused = ca.call({"SESSION", "OPEN", "late-user"});
  CHECK(refused.str.rfind("DRAINING this node is draining for a deploy; open it on node b", 0) ==
        0);
  resp_client cb(b->socket_path());
  CHECK(test::eventually([&] { return field(cb.call({"NODE", "INFO", "a"}), "sessions") == 0; }));
  CHECK(test::eventually([&] {
    return field(cb.call({"NODE", "INFO", "b"}), "sessions") == count / 2 &&
           field(cb.call({"NODE", "INFO", "c"}), "sessions") == count / 2;
  }));
}

TEST_CASE("bad session input gets clear errors", "[portable]") {
  test::test_backend redis;
  test::temp_dir dir;
  {
    test::test_batond off(redis.url());
    resp_client c(off.socket_path());
    CHECK(c.call({"SESSION", "OPEN", "u"}).str.rfind("ERR sessions are off on this daemon", 0) ==
          0);
  }
  auto config = test::write_secret_config(dir, "s.yaml", "",
                                          "sessions: {max_state_bytes: 8, max_meta_bytes: 16}\n");
  auto a = session_daemon(redis, "a", config);
  resp_client c(a->socket_path());
  CHECK(c.call({"SESSION", "OPEN", ""}).str == "ERR a user is 1 to 256 bytes, got 0");
  CHECK(c.call({"SESSION", "OPEN", "u", "10"}).str.rfind("ERR ttl_ms must be from 1000", 0) == 0);
  CHECK(c.call({"SESSION", "OPEN", "u", "META", "{nope"}).str == "ERR META must be JSON");
  CHECK(c.call({"SESSION", "OPEN", "u", "META", std::string(17, '1')})
            .str.rfind("ERR META is 17 bytes", 0) == 0);
  CHECK(c.call({"SESSION", "OPEN", "u", "FOO"}).str.rfind("ERR syntax error near 'FOO'", 0) == 0);
  CHECK(c.call({"SESSION", "GET", "not-an-id"}).str.rfind("ERR a session id is 32", 0) == 0);
  auto id = text_field(c.call({"SESSION", "OPEN", "u"}), "id");
  CHECK(c.call({"SESSION", "STATE", id, "SET", "123456789"}).str ==
        "ERR state is 9 bytes; at most 8 (sessions.max_state_bytes)");
  CHECK(c.call({"SESSION", "STATE", id, "PUT", "x"}).str ==
        "ERR syntax error; expected SESSION STATE id [SET blob]");
  CHECK(c.call({"SESSION", "STATE", std::string(32, 'f'), "SET", "x"}).str ==
        "ERR no such session (closed or expired)");
  CHECK(c.call({"SESSION", "GET", id, "x"}).str.rfind("ERR wrong number of arguments", 0) == 0);
  CHECK(c.call({"SESSION", "WATCH", "x"}).str.rfind("ERR wrong number of arguments", 0) == 0);
  // SUBSCRIBE sessions and UNSUBSCRIBE (all) answer as Redis does, once each.
  resp_client sub(a->socket_path());
  auto subscribed = sub.call({"SUBSCRIBE", "sessions"});
  CHECK(subscribed.to_string() == "[\"subscribe\", \"sessions\", (integer) 1]");
  auto unsubscribed = sub.call({"UNSUBSCRIBE"});
  CHECK(unsubscribed.to_string() == "[\"unsubscribe\", \"sessions\", (integer) 0]");
  CHECK(sub.call({"PING"}).str == "PONG"); // out of watch mode again
  CHECK(c.call({"PING"}).str == "PONG");
}

TEST_CASE("kill -9 of a daemon: a live node adopts each of its sessions within ttl + a heartbeat",
          "[portable]") {
  test::test_backend redis;
  test::temp_dir dir;
  auto config = config_for(dir); // heartbeat 100 ms, ttl 1000 ms
  auto a = session_daemon(redis, "a", config);
  auto b = session_daemon(redis, "b", config);
  auto c = session_daemon(redis, "c", config);
  resp_client cc(c->socket_path());
  constexpr int count = 30;
  std::vector<std::pair<std::string, std::string>> opened; // id, token
  for (int i = 0; i < count; ++i) {
    auto r = cc.call({"SESSION", "OPEN", "u" + std::to_string(i)});
    opened.emplace_back(text_field(r, "id"), text_field(r, "token"));
    cc.call({"SESSION", "STATE", opened.back().first, "SET", "s" + std::to_string(i)});
  }
  // A short read timeout: after the last push, a read gives up and the count is complete.
  resp_client app_a(a->socket_path(), 1500), app_b(b->socket_path(), 1500);
  for (auto* app : {&app_a, &app_b}) {
    app->call({"HELLO", "3"});
    app->call({"SESSION", "WATCH"});
  }
  c->kill();
  auto killed = std::chrono::steady_clock::now();
  resp_client ca(a->socket_path());
  auto all_adopted = [&] {
    for (const auto& [id, token] : opened) {
      auto owner = text_field(ca.call({"SESSION", "GET", id}), "owner");
      if (owner != "a" && owner != "b") return false;
    }
    return true;
  };
  CHECK(test::eventually(all_adopted, 5000));
  auto took = std::chrono::steady_clock::now() - killed;
  INFO("adopted after " << std::chrono::duration_cast<std::chrono::milliseconds>(took).count()
                        << " ms");
  CHECK(took < 1000ms + 100ms + 600ms); // ttl + one heartbeat (+ slack for a loaded CI)
  // The apps on a and b heard of what came to them; each client resumes with its last token.
  int handoff_in = 0;
  for (auto* app : {&app_a, &app_b})
    while (true) {
      resp_value push;
      try {
        push = app->read();
      } catch (const std::exception&) {
        break;
      }
      if (push.elements.size() == 4 && push.elements[1].str == "handoff-in") ++handoff_in;
    }
  CHECK(handoff_in == count);
  int resumed = 0;
  for (int i = 0; i < count; ++i) {
    auto r = ca.call({"SESSION", "RESUME", opened[i].second});
    if (text_field(r, "state") == "s" + std::to_string(i)) ++resumed;
  }
  CHECK(resumed == count);
}

TEST_CASE("a drain waits drain_delay_ms after /readyz turns 503, and round_robin spreads in turn",
          "[portable]") {
  test::test_backend redis;
  test::temp_dir dir;
  auto config = test::write_secret_config(
      dir, "s.yaml", "",
      "membership: {heartbeat_ms: 100, ttl_ms: 1000}\n"
      "sessions: {drain_delay_ms: 400, handoff_strategy: round_robin, handoff_deadline_ms: 500}\n");
  auto a = session_daemon(redis, "a", config);
  auto b = session_daemon(redis, "b", config);
  auto c = session_daemon(redis, "c", config);
  resp_client ca(a->socket_path()), cb(b->socket_path());
  // b already holds sessions: least_sessions would send everything to c; round_robin alternates.
  for (int i = 0; i < 4; ++i)
    cb.call({"SESSION", "OPEN", "b-user"});
  std::vector<std::string> ids;
  for (int i = 0; i < 6; ++i)
    ids.push_back(text_field(ca.call({"SESSION", "OPEN", "u"}), "id"));
  CHECK(test::eventually([&] { return field(cb.call({"NODE", "INFO", "b"}), "sessions") == 4; }));
  auto drain = std::async(std::launch::async, [&] {
    resp_client admin(a->socket_path());
    return admin.call({"NODE", "DRAIN", "WAIT"});
  });
  std::this_thread::sleep_for(200ms);
  // Unready at once, but nothing moved yet: load balancers get the delay to notice.
  CHECK(test::http_get(a->http_port(), "/readyz") == 503);
  CHECK(text_field(cb.call({"SESSION", "GET", ids[0]}), "owner") == "a");
  auto report = drain.get();
  CHECK(field(report, "moved") == 6);
  CHECK(field(report, "resumed") == 0); // nobody resumed here: the deadline ended the wait
  CHECK(field(report, "took_ms") >= 500);
  std::map<std::string, int> owners;
  for (const auto& id : ids)
    ++owners[text_field(cb.call({"SESSION", "GET", id}), "owner")];
  CHECK(owners["b"] == 3);
  CHECK(owners["c"] == 3);
}

TEST_CASE("sessions are capped per user fleet-wide and per node: OPEN past either is refused") {
  test::test_redis redis;
  test::temp_dir dir;
  auto config = test::write_secret_config(
      dir, "s.yaml", "",
      "membership: {heartbeat_ms: 100, ttl_ms: 1000}\n"
      "sessions: {handoff_deadline_ms: 3000, max_per_user: 2, max_per_node: 3}\n");
  auto a = session_daemon(redis, "a", config);
  auto b = session_daemon(redis, "b", config);
  resp_client ca(a->socket_path()), cb(b->socket_path());
  auto first = text_field(ca.call({"SESSION", "OPEN", "alice"}), "id");
  REQUIRE(first.size() == 32);
  REQUIRE(text_field(ca.call({"SESSION", "OPEN", "alice"}), "id").size() == 32);
  // The user's cap holds across the fleet: b has no session yet, and still refuses a third.
  CHECK(cb.call({"SESSION", "OPEN", "alice"}).str ==
        "ERR max number of sessions for this user reached (sessions.max_per_user = 2); close "
        "one first");
  // The node's cap: a owns three now.
  REQUIRE(text_field(ca.call({"SESSION", "OPEN", "bob"}), "id").size() == 32);
  CHECK(ca.call({"SESSION", "OPEN", "carol"}).str ==
        "ERR max number of sessions on this node reached (sessions.max_per_node = 3); open it "
        "on another node");
  CHECK(text_field(cb.call({"SESSION", "OPEN", "carol"}), "id").size() == 32);
  // A refusal took no place: a closed session gives its place back, to the user and the node.
  CHECK(cb.call({"SESSION", "CLOSE", first}).integer == 1);
  resp_client raw(redis.socket_path()); // the indexes are updated just after CLOSE answers
  CHECK(test::eventually([&] {
    return raw.call({"ZCARD", "baton:user-sessions:{alice}"}).integer == 1 &&
           raw.call({"ZCARD", "baton:node-sessions:{a}"}).integer == 2;
  }));
  CHECK(text_field(cb.call({"SESSION", "OPEN", "alice"}), "id").size() == 32);
  CHECK(text_field(ca.call({"SESSION", "OPEN", "dave"}), "id").size() == 32);
  std::string body;
  test::http_get(b->http_port(), "/metrics", &body);
  CHECK(body.find("baton_session_limit_refusals_total{cap=\"user\"} 1\n") != std::string::npos);
  test::http_get(a->http_port(), "/metrics", &body);
  CHECK(body.find("baton_session_limit_refusals_total{cap=\"node\"} 1\n") != std::string::npos);
}
