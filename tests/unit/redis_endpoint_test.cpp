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
