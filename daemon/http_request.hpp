// Reading one request of the HTTP endpoint, apart from its socket: the limits every request is
// read with, a pure parse of received bytes, and the choice of endpoint for a method and
// target. http_server reads through Beast with the same parser settings; this file exists so
// the parsing and routing can be fuzzed and tested without a connection.
#pragma once

#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/string_body.hpp>

#include <cstddef>
#include <string>
#include <string_view>

namespace baton {

/// Operators' GETs carry no body.
constexpr std::size_t http_body_limit = 4096;
/// The read buffer's size: a request's header (and any unread body) must fit in it.
constexpr std::size_t http_buffer_limit = 8192;

using http_request_parser = boost::beast::http::request_parser<boost::beast::http::string_body>;

/// Applies the endpoint's limits to a fresh parser.
void limit_http_parser(http_request_parser& parser);

enum class http_read_status {
  complete,  ///< a whole request; `consumed` bytes used
  need_more, ///< only part of a request so far
  error,     ///< malformed or over a limit: the server closes the connection
};

struct http_read_result {
  http_read_status status = http_read_status::need_more;
  std::size_t consumed = 0;
  std::string method;
  std::string target;
  unsigned version = 11;
  bool keep_alive = false;
  std::string error; ///< Beast's words for an error
};

/// Parses the first request of `received` as the server's read does: the same parser, limits
/// and buffer size (a header that does not fit in http_buffer_limit bytes is an error).
http_read_result read_http_request(std::string_view received);

enum class http_endpoint {
  metrics,
  healthz,
  readyz,
  ui_page,  ///< /ui and /ui/: the fleet page
  ui_fleet, ///< /ui/fleet.json: what the page shows
  ui_asset, ///< /ui/<file>: the page's other files (ui_asset_name says which)
  not_found,
  method_not_allowed
};

/// The endpoint a request is for: only GET and HEAD, the path without its query.
http_endpoint route_http(std::string_view method, std::string_view target);
/// For a ui_asset target, the file it names ("fleet.js"); empty for any other.
std::string_view ui_asset_name(std::string_view target);

/// Whether a Host header names the server by address (an IPv4 or bracketed IPv6 literal, or
/// "localhost", with or without a port). The fleet page answers only those: a web page
/// elsewhere that rebinds its own name to 127.0.0.1 (DNS rebinding) sends its name as Host,
/// and must not read the fleet through the operator's browser.
bool host_is_address(std::string_view host);

} // namespace baton
