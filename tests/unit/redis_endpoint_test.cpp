// Redis URL parsing.
#include <catch2/catch.hpp>

#include "redis/redis_endpoint.hpp"

using namespace baton::redis_link;

TEST_CASE("redis, rediss and unix URLs parse") {
  std::string error;
  auto tcp = parse_redis_url("redis://user:p%40ss@db.example:6380/3", error);
  REQUIRE(tcp);
  CHECK(tcp->transport == transport_kind::tcp);
  CHECK(tcp->host == "db.example");
  CHECK(tcp->port == 6380);
  CHECK(tcp->username == "user");
  CHECK(tcp->password == "p@ss");
  CHECK(tcp->database == 3);
  CHECK(tcp->describe() == "redis://user@db.example:6380/3");
  auto tls = parse_redis_url("rediss://[::1]", error);
  REQUIRE(tls);
  CHECK(tls->transport == transport_kind::tls);
  CHECK(tls->host == "::1");
  CHECK(tls->port == 6379);
  auto unix_socket = parse_redis_url("unix:///run/redis.sock?db=1", error);
  REQUIRE(unix_socket);
  CHECK(unix_socket->path == "/run/redis.sock");
  CHECK(unix_socket->database == 1);
}

TEST_CASE("bad URLs say what is wrong") {
  std::string error;
  CHECK_FALSE(parse_redis_url("http://x", error));
  CHECK(error.find("must start with") != std::string::npos);
  CHECK_FALSE(parse_redis_url("redis://host:99999", error));
  CHECK(error.find("port must be 1-65535") != std::string::npos);
  CHECK_FALSE(parse_redis_url("redis://host/abc", error));
  CHECK_FALSE(parse_redis_url("redis://:6379", error));
  CHECK_FALSE(parse_redis_url("unix://relative.sock", error));
  CHECK_FALSE(parse_redis_url("unix:///x.sock?foo=1", error));
  CHECK_FALSE(parse_redis_url("redis://host:", error));
}

TEST_CASE("a Sentinel URL names the sentinels, the master and how to reach the servers") {
  std::string error;
  auto group = parse_sentinel_url("redis-sentinel://app:s%3Acret@10.0.0.1:26380,[::1],sentinel-c/"
                                  "orders/2",
                                  error);
  REQUIRE(group);
  CHECK(group->master_name == "orders");
  REQUIRE(group->sentinels.size() == 3);
  CHECK(group->sentinels[0].host == "10.0.0.1");
  CHECK(group->sentinels[0].port == 26380);
  CHECK(group->sentinels[1].host == "::1");
  CHECK(group->sentinels[1].port == 26379); // Sentinel's port, not Redis'
  CHECK(group->sentinels[2].host == "sentinel-c");
  CHECK(group->data.username == "app");
  CHECK(group->data.password == "s:cret");
  CHECK(group->data.database == 2);
  CHECK(group->data.transport == transport_kind::tcp);
  CHECK(group->sentinels[0].password.empty()); // the servers' credentials stay theirs

  auto tls = parse_sentinel_url("rediss-sentinel://h:1/m", error);
  REQUIRE(tls);
  CHECK(tls->data.transport == transport_kind::tls);
  CHECK(tls->sentinels[0].transport == transport_kind::tls);
  CHECK(valid_redis_url("redis-sentinel://h/m", error));
}

TEST_CASE("bad Sentinel URLs say what is wrong") {
  std::string error;
  CHECK_FALSE(parse_sentinel_url("redis-sentinel://h1,h2", error));
  CHECK(error.find("master's name") != std::string::npos);
  CHECK_FALSE(parse_sentinel_url("redis-sentinel://h1,,h2/m", error));
  CHECK(error.find("no host") != std::string::npos);
  CHECK_FALSE(parse_sentinel_url("redis-sentinel://h1:0/m", error));
  CHECK(error.find("port") != std::string::npos);
  CHECK_FALSE(parse_sentinel_url("redis-sentinel://h1/m/x", error));
  CHECK_FALSE(parse_sentinel_url("redis-sentinel://u:p@h1,u:p@h2/m", error));
  CHECK(error.find("percent-encoded") != std::string::npos);
  CHECK_FALSE(parse_redis_url("redis-sentinel://h1/m", error)); // a group, not one server
  CHECK(error.find("many servers") != std::string::npos);
  CHECK_FALSE(valid_redis_url("redis-sentinel://h1/", error));
}

TEST_CASE("a Cluster URL names the seed nodes and how to reach every node") {
  std::string error;
  auto cluster =
      parse_cluster_url("redis-cluster://app:s%40cret@10.0.0.1:7000,[::1]:7001,node-c", error);
  REQUIRE(cluster);
  REQUIRE(cluster->seeds.size() == 3);
  CHECK(cluster->seeds[0].host == "10.0.0.1");
  CHECK(cluster->seeds[0].port == 7000);
  CHECK(cluster->seeds[1].host == "::1");
  CHECK(cluster->seeds[1].port == 7001);
  CHECK(cluster->seeds[2].port == 6379);
  CHECK(cluster->data.username == "app");
  CHECK(cluster->data.password == "s@cret");
  CHECK(cluster->data.host.empty()); // from the slot map
  CHECK(cluster->data.transport == transport_kind::tcp);
  auto tls = parse_cluster_url("rediss-cluster://h:1/", error);
  REQUIRE(tls);
  CHECK(tls->seeds[0].transport == transport_kind::tls);
  CHECK(tls->data.transport == transport_kind::tls);
  CHECK(valid_redis_url("redis-cluster://h1:7000/0", error));
}

TEST_CASE("bad Cluster URLs say what is wrong") {
  std::string error;
  CHECK_FALSE(parse_cluster_url("redis-cluster://h1:7000/2", error));
  CHECK(error.find("database 0 only") != std::string::npos);
  CHECK_FALSE(parse_cluster_url("redis-cluster://h1,,h2", error));
  CHECK(error.find("no host") != std::string::npos);
  CHECK_FALSE(parse_cluster_url("redis-cluster://h1:70000", error));
  CHECK(error.find("port") != std::string::npos);
  CHECK_FALSE(parse_cluster_url("redis-cluster://u:p@h1,u:p@h2", error));
  CHECK(error.find("percent-encoded") != std::string::npos);
  CHECK_FALSE(parse_redis_url("redis-cluster://h1", error));
  CHECK(error.find("many servers") != std::string::npos);
  CHECK_FALSE(valid_redis_url("redis-cluster://", error));
}
