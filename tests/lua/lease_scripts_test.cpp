// lua/lease_*.lua on a real redis-server: mutual exclusion, tokens that only grow (also when
// Redis loses everything), expiry, lock-delay after an unclean loss, renew and release that
// only the holder can do, a lost lease given back (its lock-delay kept), and TTLs on every key.
#include <catch2/catch.hpp>

#include <thread>

#include "tests/support/script_runner.hpp"
#include "tests/support/test_redis.hpp"

using namespace baton;
using protocol::resp_value;
using namespace std::chrono_literals;

namespace {

const std::string lease_key = "baton:lease:{jobs}";
const std::string fence_key = "baton:lease:{jobs}:fence";
const std::string watch_channel = "baton:lease-watch:{jobs}";

struct lease_fixture {
  test::test_redis redis;
  test::script_runner lua{redis.socket_path()};

  resp_value acquire(const std::string& owner, int ttl_ms, int lock_delay_ms = 0,
                     std::int64_t floor = 0) {
    return lua.run("lease_acquire", {lease_key, fence_key},
                   {owner, std::to_string(ttl_ms), "node-" + owner, "client of " + owner,
                    "meta of " + owner, std::to_string(lock_delay_ms), std::to_string(floor),
                    watch_channel});
  }
  resp_value renew(const std::string& owner, std::int64_t token, int ttl_ms) {
    return lua.run("lease_renew", {lease_key},
                   {owner, std::to_string(token), std::to_string(ttl_ms)});
  }
  resp_value release(const std::string& owner, std::int64_t token) {
    return lua.run("lease_release", {lease_key},
                   {owner, std::to_string(token), "baton:lease-events", "jobs"});
  }
  resp_value retire(const std::string& owner, std::int64_t token, int ms) {
    return lua.run(
        "lease_retire", {lease_key},
        {owner, std::to_string(token), std::to_string(ms), "baton:lease-events", "jobs"});
  }
  resp_value give_back(const std::string& owner, std::int64_t token) {
    return lua.run("lease_give_back", {lease_key},
                   {owner, std::to_string(token), "baton:lease-events", "jobs"});
  }
  resp_value info() { return lua.run("lease_info", {lease_key}, {}); }
};

bool granted(const resp_value& r) {
  return r.elements.at(0).integer == 1;
}
std::int64_t token_of(const resp_value& r) {
  return r.elements.at(1).integer;
}

} // namespace

TEST_CASE_METHOD(lease_fixture, "one holder at a time: the loser learns who holds it") {
  auto first = acquire("a", 10000);
  REQUIRE(granted(first));
  CHECK(first.elements[3].str == "granted");
  auto second = acquire("b", 10000);
  REQUIRE_FALSE(granted(second));
  CHECK(second.elements[1].str == "held");
  CHECK(second.elements[2].str == "a");
  CHECK(second.elements[3].str == "node-a");
  CHECK(second.elements[5].integer == token_of(first));
  CHECK(second.elements[6].integer > 9000);
  // The holder asking again (a retry after a lost reply) keeps its token.
  auto again = acquire("a", 10000);
  CHECK(granted(again));
  CHECK(token_of(again) == token_of(first));
  CHECK(again.elements[3].str == "held");
}

TEST_CASE_METHOD(lease_fixture, "tokens grow with every grant and are an epoch from Redis TIME") {
  auto t = lua.call({"TIME"});
  auto now_us = std::stoll(t.elements[0].str) * 1000000 + std::stoll(t.elements[1].str);
  auto first = acquire("a", 10000);
  CHECK(token_of(first) >= now_us);
  REQUIRE(granted(release("a", token_of(first))));
  std::int64_t previous = token_of(first);
  for (int i = 0; i < 50; ++i) {
    auto r = acquire(i % 2 ? "a" : "b", 10000);
    REQUIRE(granted(r));
    REQUIRE(token_of(r) > previous);
    previous = token_of(r);
    REQUIRE(granted(release(i % 2 ? "a" : "b", previous)));
  }
}

TEST_CASE_METHOD(lease_fixture, "tokens keep growing after Redis loses all its data") {
  auto before = acquire("a", 10000);
  REQUIRE(granted(before));
  SECTION("FLUSHALL") {
    lua.call({"FLUSHALL"});
  }
  SECTION("restart without persistence") {
    redis.kill();
    redis.start();
  }
  test::script_runner fresh(redis.socket_path());
  auto after = fresh.run("lease_acquire", {lease_key, fence_key},
                         {"b", "10000", "node-b", "c", "", "0", "0"});
  REQUIRE(granted(after));
  CHECK(token_of(after) > token_of(before));
}

TEST_CASE_METHOD(lease_fixture, "the caller's floor lifts tokens above anything it has seen") {
  auto first = acquire("a", 10000);
  REQUIRE(granted(release("a", token_of(first))));
  std::int64_t floor = token_of(first) + 1000000000; // e.g. seen before a failover
  auto r = acquire("b", 10000, 0, floor);
  REQUIRE(granted(r));
  CHECK(token_of(r) == floor + 1);
}

TEST_CASE_METHOD(lease_fixture, "an expired lease can be taken, with a larger token") {
  auto first = acquire("a", 50);
  REQUIRE(granted(first));
  std::this_thread::sleep_for(80ms);
  auto second = acquire("b", 10000);
  REQUIRE(granted(second));
  CHECK(token_of(second) > token_of(first));
  // The old holder can neither renew nor release any more.
  CHECK(renew("a", token_of(first), 1000).elements[1].str == "not-holder");
  CHECK(release("a", token_of(first)).elements[1].str == "not-holder");
  CHECK(info().elements[1].str == "b");
}

TEST_CASE_METHOD(lease_fixture,
                 "lock-delay keeps the name after an unclean loss, not after a release") {
  auto lost = acquire("a", 50, 300);
  REQUIRE(granted(lost));
  std::this_thread::sleep_for(100ms); // a expired without releasing (its daemon died)
  auto during = acquire("b", 10000);
  REQUIRE_FALSE(granted(during));
  CHECK(during.elements[1].str == "lock-delay");
  CHECK(during.elements[6].integer > 0);
  CHECK(info().elements[0].str == "lock-delay");
  std::this_thread::sleep_for(300ms);
  REQUIRE(granted(acquire("b", 10000, 300)));

  auto held = acquire("b", 10000, 300);
  REQUIRE(granted(release("b", token_of(held))));
  CHECK(granted(acquire("c", 10000))); // a clean release: no delay
}

TEST_CASE_METHOD(lease_fixture, "only the holder renews, and a lapsed lease is not revived") {
  auto r = acquire("a", 200, 500); // with lock-delay, the lapsed record stays a while
  REQUIRE(granted(r));
  auto renewed = renew("a", token_of(r), 5000);
  REQUIRE(renewed.elements[0].integer == 1);
  CHECK(lua.call({"PTTL", lease_key}).integer > 5000); // ttl + lock-delay
  CHECK(info().elements[5].integer > 4000);
  CHECK(renew("b", token_of(r), 5000).elements[1].str == "not-holder");
  CHECK(renew("a", token_of(r) + 1, 5000).elements[1].str == "not-holder");
  lua.call({"DEL", lease_key});
  CHECK(renew("a", token_of(r), 5000).elements[1].str == "not-held");
  auto brief = acquire("a", 50, 500);
  REQUIRE(granted(brief));
  std::this_thread::sleep_for(80ms);
  CHECK(renew("a", token_of(brief), 5000).elements[1].str == "expired");
}

TEST_CASE_METHOD(lease_fixture,
                 "a renewal never shortens a lease: crossing renewals keep the longer") {
  // A holder's RENEW (long) and the keeper's renewal (short) cross: the short one lands last.
  auto r = acquire("a", 1000);
  REQUIRE(granted(r));
  REQUIRE(renew("a", token_of(r), 8000).elements[0].integer == 1);
  REQUIRE(renew("a", token_of(r), 500).elements[0].integer == 1);
  CHECK(info().elements[5].integer > 7000);
  CHECK(lua.call({"PTTL", lease_key}).integer > 7000);
  std::this_thread::sleep_for(600ms); // past the short one: still held
  CHECK(renew("a", token_of(r), 500).elements[0].integer == 1);
}

TEST_CASE_METHOD(lease_fixture, "only the holder releases: release announces itself") {
  auto r = acquire("a", 10000);
  REQUIRE(granted(r));
  CHECK(release("b", token_of(r)).elements[1].str == "not-holder");
  CHECK(release("a", token_of(r) - 1).elements[1].str == "not-holder");
  CHECK(info().elements[1].str == "a"); // nothing changed
  protocol::resp_client subscriber(redis.socket_path());
  subscriber.call({"SUBSCRIBE", "baton:lease-events"});
  CHECK(release("a", token_of(r)).elements[1].str == "released");
  auto message = subscriber.read();
  CHECK(message.elements.at(2).str == "released jobs " + std::to_string(token_of(r)));
  CHECK(info().elements.empty());
  CHECK(release("a", token_of(r)).elements[1].str == "not-held");
}

TEST_CASE_METHOD(lease_fixture,
                 "retire: the holder keeps it until the end given, then it is free at once") {
  auto r = acquire("a", 10000, 5000); // lock-delay configured: a retired lease skips it
  REQUIRE(granted(r));
  CHECK(retire("b", token_of(r), 200).elements[1].str == "not-holder");
  CHECK(lua.call({"PTTL", lease_key}).integer > 10000); // nothing changed
  protocol::resp_client subscriber(redis.socket_path());
  subscriber.call({"SUBSCRIBE", "baton:lease-events"});
  auto retired = retire("a", token_of(r), 200);
  REQUIRE(granted(retired));
  CHECK(retired.elements[1].integer == 200);
  CHECK(subscriber.read().elements.at(2).str ==
        "retiring jobs " + std::to_string(token_of(r)) + " 200");
  CHECK_FALSE(granted(acquire("b", 10000))); // still the holder's until then
  std::this_thread::sleep_for(250ms);
  CHECK(granted(acquire("b", 10000))); // then free, without the 5 s lock-delay
  // Never lengthens a lease: a retire later than its end leaves the end alone, and drops
  // the lock-delay that would have followed it.
  lua.call({"DEL", lease_key});
  auto s2 = acquire("c", 300, 5000);
  REQUIRE(granted(s2));
  REQUIRE(granted(retire("c", token_of(s2), 60000)));
  CHECK(lua.call({"PTTL", lease_key}).integer <= 300);
  std::this_thread::sleep_for(350ms);
  CHECK(granted(acquire("d", 10000))); // no lock-delay after its end
  CHECK(retire("c", token_of(s2), 100).elements[1].str == "not-holder");
  lua.call({"DEL", lease_key});
  CHECK(retire("c", token_of(s2), 100).elements[1].str == "not-held");
}

TEST_CASE_METHOD(lease_fixture, "every key a lease writes has a TTL") {
  REQUIRE(granted(acquire("a", 1000, 500)));
  auto lease_ttl = lua.call({"PTTL", lease_key}).integer;
  CHECK(lease_ttl > 1000);
  CHECK(lease_ttl <= 1500);
  CHECK(lua.call({"PTTL", fence_key}).integer > 0);
  CHECK(info().elements[6].str == "meta of a");
}

TEST_CASE_METHOD(lease_fixture,
                 "on a Cluster the grant is announced with SPUBLISH, to sharded subscribers only") {
  // ARGV[10] = SPUBLISH (redis/shard_channels.hpp). A classic subscriber of the same channel
  // hears nothing: sharded and classic pub/sub are separate in Redis.
  protocol::resp_client sharded(redis.socket_path());
  protocol::resp_client classic(redis.socket_path());
  REQUIRE(sharded.call({"SSUBSCRIBE", watch_channel}).elements.at(0).str == "ssubscribe");
  REQUIRE(classic.call({"SUBSCRIBE", watch_channel}).elements.at(0).str == "subscribe");
  auto grant = lua.run("lease_acquire", {lease_key, fence_key},
                       {"a", "10000", "node-a", "uid=1000 pid=1", "m", "0", "0", watch_channel,
                        "", "SPUBLISH"});
  REQUIRE(granted(grant));
  auto message = sharded.read();
  REQUIRE(message.elements.size() == 3);
  CHECK(message.elements[0].str == "smessage");
  CHECK(message.elements[2].str ==
        "acquired " + std::to_string(token_of(grant)) + " 10000 node-a uid=1000 m");
  // The classic subscriber got nothing: a PING reply is the next thing it reads.
  classic.send({"PING"});
  CHECK(classic.read().elements.at(0).str == "pong");
  // "PUBLISH" (and anything else) announces the classic way.
  REQUIRE(granted(release("a", token_of(grant))));
  auto next = lua.run("lease_acquire", {lease_key, fence_key},
                      {"b", "10000", "node-b", "c", "m", "0", "0", watch_channel, "", "PUBLISH"});
  REQUIRE(granted(next));
  CHECK(classic.read().elements.at(0).str == "message");
}

TEST_CASE_METHOD(lease_fixture, "a new grant is announced on the name's watch channel") {
  protocol::resp_client watcher(redis.socket_path());
  auto confirmed = watcher.call({"SUBSCRIBE", watch_channel});
  REQUIRE(confirmed.elements.at(0).str == "subscribe");
  auto first = acquire("a", 10000);
  REQUIRE(granted(first));
  auto message = watcher.read();
  REQUIRE(message.elements.size() == 3);
  CHECK(message.elements[1].str == watch_channel);
  CHECK(message.elements[2].str ==
        "acquired " + std::to_string(token_of(first)) + " 10000 node-a uid=- meta of a");
  // A retry by the holder changes nothing and announces nothing; a release is announced on
  // the daemons' common channel (for WAIT), not here; the next grant is.
  REQUIRE(granted(acquire("a", 10000)));
  REQUIRE(granted(release("a", token_of(first))));
  auto second = acquire("b", 5000);
  auto next = watcher.read();
  CHECK(next.elements.at(2).str ==
        "acquired " + std::to_string(token_of(second)) + " 5000 node-b uid=- meta of b");
  // A client described by its uid (as batond describes them) is announced with it, so that
  // watchers of other uids can be told less (model/lease/grant_announcement.hpp).
  REQUIRE(granted(release("b", token_of(second))));
  auto third =
      lua.run("lease_acquire", {lease_key, fence_key},
              {"c", "5000", "node-c", "uid=1001 gid=1001 pid=7", "m", "0", "0", watch_channel});
  REQUIRE(granted(third));
  CHECK(watcher.read().elements.at(2).str ==
        "acquired " + std::to_string(token_of(third)) + " 5000 node-c uid=1001 m");
}

TEST_CASE_METHOD(lease_fixture, "an acquire that runs after its own abandon grants nothing") {
  auto mark = [&](const std::string& owner, const std::string& request) {
    return lease_key + ":abandoned:" + owner + ":" + request;
  };
  auto acquire_as = [&](const std::string& owner, const std::string& request) {
    return lua.run(
        "lease_acquire", {lease_key, fence_key, mark(owner, request)},
        {owner, "5000", "node-" + owner, "client", "meta", "0", "0", watch_channel, request});
  };
  auto abandon = [&](const std::string& owner, const std::string& request) {
    return lua.run("lease_abandon", {lease_key, mark(owner, request)},
                   {owner, "baton:lease-events", "jobs", request, "5000"});
  };
  // The abandon's retry overtook the acquire (another connection): it finds nothing, and
  // leaves a mark that lives the lease's TTL plus a minute.
  CHECK(abandon("a", "1").integer == 0);
  auto mark_ttl = std::stoll(redis.cli({"PTTL", mark("a", "1")}));
  CHECK(mark_ttl > 60000);
  CHECK(mark_ttl <= 65000);
  // The late acquire grants nothing, and uses the mark up.
  auto late = acquire_as("a", "1");
  CHECK(late.elements.at(0).integer == 0);
  CHECK(late.elements.at(1).str == "abandoned");
  CHECK(redis.cli({"EXISTS", lease_key}) == "0");
  CHECK(redis.cli({"EXISTS", mark("a", "1")}) == "0");
  // Other requests, of the same owner or another, are not touched by the mark.
  CHECK(abandon("a", "2").integer == 0);
  auto other = acquire_as("b", "2");
  CHECK(other.elements.at(0).integer == 1);
  CHECK(redis.cli({"EXISTS", mark("a", "2")}) == "1");
  // Without the key (the daemon's own task leases), acquire works as before.
  CHECK(lua.run("lease_acquire", {lease_key, fence_key},
                {"b", "5000", "node-b", "client", "meta", "0", "0", watch_channel})
            .elements.at(0)
            .integer == 1);
}

TEST_CASE_METHOD(lease_fixture, "abandon releases a grant only for the request that asked") {
  auto acquire_as = [&](const std::string& owner, const std::string& request) {
    return lua.run(
        "lease_acquire", {lease_key, fence_key},
        {owner, "5000", "node-" + owner, "client", "meta", "0", "0", watch_channel, request});
  };
  auto abandon = [&](const std::string& owner, const std::string& request) {
    return lua.run("lease_abandon", {lease_key}, {owner, "baton:lease-events", "jobs", request});
  };
  CHECK(abandon("a", "1").integer == 0); // nothing held: nothing to do, and still safe
  auto token = acquire_as("a", "1").elements.at(1).integer;
  CHECK(abandon("b", "1").integer == 0); // another owner's grant stays
  CHECK(abandon("a", "2").integer == 0); // and another request's
  CHECK(redis.cli({"HGET", lease_key, "owner"}) == "a");
  CHECK(abandon("a", "1").integer == token);
  CHECK(redis.cli({"EXISTS", lease_key}) == "0");
  // The name is free at once (no lock-delay), and tokens still grow.
  auto next = acquire_as("b", "7").elements.at(1).integer;
  CHECK(next > token);
  // The chaos harness's case: request 8 of owner c timed out and its abandon waited; c asked
  // again (request 9) and was granted. The late abandon of request 8 must not take it.
  REQUIRE(lua.run("lease_release", {lease_key},
                  {"b", std::to_string(next), "baton:lease-events", "jobs"})
              .elements.at(0)
              .integer == 1);
  auto granted = acquire_as("c", "9").elements.at(1).integer;
  CHECK(abandon("c", "8").integer == 0);
  CHECK(redis.cli({"HGET", lease_key, "token"}) == std::to_string(granted));
  // A request asked again while its first grant stands is the newest: it is what an abandon of
  // the newest request gives up.
  acquire_as("c", "10");
  CHECK(abandon("c", "9").integer == 0);
  CHECK(abandon("c", "10").integer == granted);
}

TEST_CASE_METHOD(lease_fixture, "give-back: a lost lease ends now, only under its owner and token") {
  auto r = acquire("a", 10000);
  REQUIRE(granted(r));
  CHECK(give_back("b", token_of(r)).elements[1].str == "not-holder");
  CHECK(give_back("a", token_of(r) + 1).elements[1].str == "not-holder");
  CHECK(info().elements[1].str == "a"); // nothing changed
  protocol::resp_client subscriber(redis.socket_path());
  subscriber.call({"SUBSCRIBE", "baton:lease-events"});
  auto given = give_back("a", token_of(r));
  CHECK(given.elements[0].integer == 1);
  CHECK(given.elements[1].str == "released"); // no lock-delay configured: gone, and waiters woken
  CHECK(subscriber.read().elements.at(2).str == "released jobs " + std::to_string(token_of(r)));
  CHECK(info().elements.empty());
  CHECK(give_back("a", token_of(r)).elements[1].str == "not-held");
  CHECK(granted(acquire("b", 10000)));
}

TEST_CASE_METHOD(lease_fixture,
                 "give-back keeps the lock-delay: the holder may not have heard it lost") {
  auto r = acquire("a", 10000, 400);
  REQUIRE(granted(r));
  auto given = give_back("a", token_of(r));
  CHECK(given.elements[0].integer == 1);
  CHECK(given.elements[1].str == "cut");
  auto during = acquire("b", 10000);
  REQUIRE_FALSE(granted(during));
  CHECK(during.elements[1].str == "lock-delay");
  CHECK(lua.call({"PTTL", lease_key}).integer <= 400); // the 10 s lease is cut to the delay
  CHECK(give_back("a", token_of(r)).elements[1].str == "expired"); // ended: nothing more
  CHECK(test::eventually([&] { return granted(acquire("b", 10000)); }, 5000));
}
