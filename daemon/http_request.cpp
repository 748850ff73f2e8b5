// One request of the HTTP endpoint, apart from its socket; see http_request.hpp.
#include "daemon/http_request.hpp"

#include <boost/asio/buffer.hpp>
#include <boost/beast/http/error.hpp>

#include <algorithm>

namespace baton {
namespace http = boost::beast::http;

void limit_http_parser(http_request_parser& parser) {
  parser.body_limit(http_body_limit);
}

http_read_result read_http_request(std::string_view received) {
  http_request_parser parser;
  limit_http_parser(parser);
  parser.eager(true); // as http::read does
  http_read_result result;
  std::size_t used = 0;
  while (!parser.is_done()) {
    // Beast's read presents what its buffer holds, at most http_buffer_limit bytes.
    auto unread = received.size() - used;
    auto window = std::min(unread, http_buffer_limit);
    if (window == 0) return result; // need_more
    boost::beast::error_code ec;
    auto n = parser.put(boost::asio::buffer(received.data() + used, window), ec);
    used += n;
    if (ec == http::error::need_more) {
      // A full buffer the parser cannot use is Beast's buffer_overflow.
      if (n == 0 && window == http_buffer_limit) {
        result.status = http_read_status::error;
        result.error = boost::beast::error_code(http::error::buffer_overflow).message();
        return result;
      }
      if (n == 0) return result; // need_more: every byte received is presented
      continue;
    }
    if (ec) {
      result.status = http_read_status::error;
      result.error = ec.message();
      return result;
    }
  }
  const auto& request = parser.get();
  result.status = http_read_status::complete;
  result.consumed = used;
  result.method = std::string(request.method_string());
  result.target = std::string(request.target());
  result.version = request.version();
  result.keep_alive = request.keep_alive();
  return result;
}

http_endpoint route_http(std::string_view method, std::string_view target) {
  if (method != "GET" && method != "HEAD") return http_endpoint::method_not_allowed;
  auto path = target.substr(0, target.find('?'));
  if (path == "/metrics") return http_endpoint::metrics;
  if (path == "/healthz") return http_endpoint::healthz;
  if (path == "/readyz") return http_endpoint::readyz;
  if (path == "/ui" || path == "/ui/") return http_endpoint::ui_page;
  if (path == "/ui/fleet.json") return http_endpoint::ui_fleet;
  if (!ui_asset_name(target).empty()) return http_endpoint::ui_asset;
  return http_endpoint::not_found;
}

std::string_view ui_asset_name(std::string_view target) {
  auto path = target.substr(0, target.find('?'));
  constexpr std::string_view folder = "/ui/";
  if (path.substr(0, folder.size()) != folder) return {};
  auto name = path.substr(folder.size());
  // A file of the embedded folder, which has no subfolders (the name is only looked up in
  // the embedded table: nothing here reads the file system).
  if (name.empty() || name.find('/') != std::string_view::npos) return {};
  return name;
}


bool host_is_address(std::string_view host) {
  if (host.empty()) return false;
  std::string_view name = host;
  if (host.front() == '[') { // [v6]:port
    auto end = host.find(']');
    if (end == std::string_view::npos) return false;
    auto rest = host.substr(end + 1);
    if (!rest.empty() && (rest.front() != ':' || rest.size() == 1)) return false;
    return end > 1;
  }
  if (auto colon = name.rfind(':'); colon != std::string_view::npos) {
    auto port = name.substr(colon + 1);
    if (port.empty() || port.find_first_not_of("0123456789") != std::string_view::npos)
      return false;
    name = name.substr(0, colon);
  }
  if (name == "localhost") return true;
  // Dotted IPv4: digits and three dots.
  int dots = 0;
  for (char c : name) {
    if (c == '.')
      ++dots;
    else if (c < '0' || c > '9')
      return false;
  }
  return dots == 3 && name.front() != '.' && name.back() != '.' &&
         name.find("..") == std::string_view::npos;
}

} // namespace baton
