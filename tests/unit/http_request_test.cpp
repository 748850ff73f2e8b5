// Reading one request of the HTTP endpoint apart from its socket, and choosing its endpoint.
#include <catch2/catch.hpp>

#include <string>

#include "daemon/http_request.hpp"

using namespace baton;

TEST_CASE("a whole GET is read with its method, target and keep-alive") {
  std::string bytes = "GET /metrics?x=1 HTTP/1.1\r\nHost: a\r\n\r\nGET /readyz HTTP/1.1\r\n\r\n";
  auto r = read_http_request(bytes);
  REQUIRE(r.status == http_read_status::complete);
  CHECK(r.consumed == bytes.find("GET /readyz"));
  CHECK(r.method == "GET");
  CHECK(r.target == "/metrics?x=1");
  CHECK(r.version == 11);
  CHECK(r.keep_alive);
}

TEST_CASE("part of a request asks for more") {
  CHECK(read_http_request("").status == http_read_status::need_more);
  CHECK(read_http_request("GET /metrics HTTP/1.1\r\nHo").status == http_read_status::need_more);
}

TEST_CASE("the server's limits make errors") {
  auto body = read_http_request("POST / HTTP/1.1\r\nContent-Length: 5000\r\n\r\n");
  CHECK(body.status == http_read_status::error);
  std::string long_header = "GET / HTTP/1.1\r\nX: " + std::string(9000, 'a');
  CHECK(read_http_request(long_header).status == http_read_status::error);
  CHECK(read_http_request("\x16\x03\x01\x00\xa5").status == http_read_status::error);
}

TEST_CASE("requests are routed by method and path, without the query") {
  CHECK(route_http("GET", "/metrics") == http_endpoint::metrics);
  CHECK(route_http("HEAD", "/readyz?verbose") == http_endpoint::readyz);
  CHECK(route_http("GET", "/healthz") == http_endpoint::healthz);
  CHECK(route_http("GET", "/") == http_endpoint::not_found);
  CHECK(route_http("POST", "/metrics") == http_endpoint::method_not_allowed);
}
