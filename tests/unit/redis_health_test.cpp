// Parsing what the Redis health sampler reads: an INFO reply of Redis 7.0 (a primary with two
// replicas, two databases), LATENCY LATEST, and replies that are not what they should be.
#include <catch2/catch.hpp>

#include "model/redis_health/redis_health.hpp"
#include "tests/support/fake_link.hpp"

using namespace baton;
using namespace baton::redis_health;
using redis_link::redis_reply;
using test::array_reply;
using test::integer_reply;
using test::string_reply;

namespace {

// Trimmed from a real `INFO` of redis-server 7.0.15 (the fields the sampler reads, among
// others it ignores), with CRLF line ends as Redis sends them.
const char* primary_info =
    "# Server\r\nredis_version:7.0.15\r\nredis_mode:standalone\r\nuptime_in_seconds:3600\r\n"
    "\r\n# Clients\r\nconnected_clients:12\r\ncluster_connections:0\r\nblocked_clients:1\r\n"
    "\r\n# Memory\r\nused_memory:1048576\r\nused_memory_human:1.00M\r\n"
    "used_memory_peak:2097152\r\nmaxmemory:4194304\r\nmaxmemory_policy:allkeys-lru\r\n"
    "\r\n# Stats\r\ninstantaneous_ops_per_sec:250\r\nrejected_connections:3\r\n"
    "expired_keys:40\r\nevicted_keys:7\r\nkeyspace_hits:900\r\nkeyspace_misses:100\r\n"
    "\r\n# Replication\r\nrole:master\r\nconnected_slaves:2\r\n"
    "slave0:ip=127.0.0.1,port=7001,state=online,offset=1000,lag=0\r\n"
    "slave1:ip=127.0.0.1,port=7002,state=wait_bgsave,offset=400,lag=1\r\n"
    "master_failover_state:no-failover\r\nmaster_repl_offset:1500\r\n"
    "\r\n# Keyspace\r\ndb0:keys=10,expires=2,avg_ttl=100\r\ndb3:keys=5,expires=0,avg_ttl=0\r\n";

} // namespace

TEST_CASE("INFO of a primary: memory, evictions, hits, clients, replicas and their lag, keys") {
  server_health h;
  REQUIRE(parse_info(primary_info, h));
  CHECK(h.version == "7.0.15");
  CHECK(h.role == "master");
  CHECK(h.uptime_s == 3600);
  CHECK(h.used_memory == 1048576);
  CHECK(h.used_memory_peak == 2097152);
  CHECK(h.maxmemory == 4194304);
  CHECK(h.maxmemory_policy == "allkeys-lru");
  CHECK(h.evicted_keys == 7);
  CHECK(h.expired_keys == 40);
  CHECK(h.connected_clients == 12);
  CHECK(h.blocked_clients == 1);
  CHECK(h.rejected_connections == 3);
  CHECK(h.ops_per_sec == 250);
  CHECK(h.keys == 15); // every database
  REQUIRE(h.hit_ratio());
  CHECK(*h.hit_ratio() == Approx(0.9));
  REQUIRE(h.replicas.size() == 2);
  CHECK(h.replicas[0].address == "127.0.0.1:7001");
  CHECK(h.replicas[0].state == "online");
  CHECK(h.replicas[0].lag_bytes == 500);
  CHECK(h.replicas[1].lag_bytes == 1100);
  CHECK(h.max_replica_lag() == 1100);
  CHECK_FALSE(h.primary_link_up); // a primary has no link to a primary
}

TEST_CASE("INFO of a replica says whether its link to the primary is up") {
  server_health h;
  REQUIRE(parse_info("redis_version:7.0.15\nrole:slave\nmaster_link_status:down\n"
                     "master_last_io_seconds_ago:-1\n",
                     h));
  CHECK(h.role == "slave");
  REQUIRE(h.primary_link_up);
  CHECK_FALSE(*h.primary_link_up);
  CHECK(h.replicas.empty());
  CHECK(h.max_replica_lag() == 0);
  CHECK_FALSE(h.hit_ratio()); // no lookup yet: no ratio, not 0
}

TEST_CASE("a reply that is not INFO is refused") {
  server_health h;
  CHECK_FALSE(parse_info("", h));
  CHECK_FALSE(parse_info("OK", h));
  CHECK_FALSE(parse_info("used_memory:5\r\n", h)); // no version: not INFO
  // Odd lines are skipped, not fatal; a replica line without fields has no address.
  CHECK(parse_info("redis_version:7\r\nslave0:garbage\r\nnocolon\r\ndbx:keys=5\r\n", h));
  CHECK(h.keys == 0);
}

TEST_CASE("LATENCY LATEST: each event's latest and highest spike") {
  std::vector<latency_event> events;
  REQUIRE(parse_latency_latest(array_reply({array_reply({string_reply("command"), integer_reply(1700000000), integer_reply(12),
                                             integer_reply(40)}),
                                      array_reply({string_reply("fork"), integer_reply(1700000001), integer_reply(3),
                                             integer_reply(3)})}),
                               events));
  REQUIRE(events.size() == 2);
  CHECK(events[0].event == "command");
  CHECK(events[0].latest_ms == 12);
  CHECK(events[0].max_ms == 40);
  CHECK(events[1].event == "fork");
  CHECK(parse_latency_latest(array_reply({}), events));
  CHECK(events.empty());
  CHECK_FALSE(parse_latency_latest(string_reply("ERR unknown command"), events));
  CHECK_FALSE(parse_latency_latest(array_reply({array_reply({string_reply("short")})}), events));
}

TEST_CASE("each primary's INFO: a good one parsed, a failed or odd one named with its error") {
  redis_reply refused;
  refused.kind = redis_link::reply_kind::error;
  refused.str = "NOPERM no info for you";
  auto primaries = parse_each_primary_info(
      {array_reply({string_reply("10.0.0.1:7000"),
                    string_reply("redis_version:7.0.15\r\nused_memory:42\r\ndb0:keys=3,expires=0\r\n")}),
       array_reply({string_reply("10.0.0.2:7000"), refused}),
       array_reply({string_reply("10.0.0.3:7000"), string_reply("not info")}),
       string_reply("no pair")});
  REQUIRE(primaries.size() == 4);
  CHECK(primaries[0].address == "10.0.0.1:7000");
  REQUIRE(primaries[0].server);
  CHECK(primaries[0].server->used_memory == 42);
  CHECK(primaries[0].server->keys == 3);
  CHECK_FALSE(primaries[1].server);
  CHECK(primaries[1].error == "NOPERM no info for you");
  CHECK_FALSE(primaries[2].server);
  CHECK(primaries[2].error == "INFO answered something that is not INFO");
  CHECK_FALSE(primaries[3].server);
  CHECK(primaries[3].error == "not an [address, reply] pair");
  CHECK(parse_each_primary_info({}).empty());
}
