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

TEST_CASE("the fleet page's paths name the page, its document and one file each") {
  CHECK(route_http("GET", "/ui") == http_endpoint::ui_page);
  CHECK(route_http("GET", "/ui/") == http_endpoint::ui_page);
  CHECK(route_http("GET", "/ui/fleet.json?t=1") == http_endpoint::ui_fleet);
  CHECK(route_http("GET", "/ui/fleet.js") == http_endpoint::ui_asset);
  CHECK(ui_asset_name("/ui/fleet.css?v=2") == "fleet.css");
  // Never a path into a folder: the assets are one flat, embedded table.
  CHECK(route_http("GET", "/ui/a/b.js") == http_endpoint::not_found);
  CHECK(ui_asset_name("/ui/../etc/passwd").empty());
  CHECK(ui_asset_name("/metrics").empty());
  CHECK(route_http("GET", "/uix") == http_endpoint::not_found);
  CHECK(route_http("POST", "/ui") == http_endpoint::method_not_allowed);
}

TEST_CASE("the fleet page answers a Host that is an address or localhost, not a name") {
  for (const char* host : {"127.0.0.1", "127.0.0.1:9464", "localhost", "localhost:9464",
                           "[::1]", "[::1]:9464", "10.1.2.3:80"})
    CHECK(host_is_address(host));
  // A name another site could rebind to 127.0.0.1 (DNS rebinding), and malformed ones.
  for (const char* host : {"", "evil.example", "evil.example:9464", "localhost.evil.example",
                           "127.0.0.1.evil", "1.2.3", "1..2.3", "[::1", "[::1]x", "[]",
                           "127.0.0.1:", "127.0.0.1:9x", "localhost:"})
    CHECK_FALSE(host_is_address(host));
}
