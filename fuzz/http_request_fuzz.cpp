// Fuzzes the HTTP endpoint's request reading (daemon/http_request: Beast's parser with the
// server's limits), its routing and the fleet page's Host check with any bytes a TCP client
// could send.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string_view>

#include "daemon/http_request.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view received(reinterpret_cast<const char*>(data), size);
  auto r = baton::read_http_request(received);
  if (r.consumed > size) {
    std::fprintf(stderr, "http_request_fuzz: consumed %zu of %zu bytes\n", r.consumed, size);
    std::abort();
  }
  if (r.status == baton::http_read_status::complete) baton::route_http(r.method, r.target);
  baton::host_is_address(received);
  return 0;
}
