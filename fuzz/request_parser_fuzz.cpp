// Fuzzes the request parser of the local API (protocol/request_parser) with any bytes a client
// could send. Besides crashes, it checks the resumable parser's promise: the stream parsed in
// pieces (sizes taken from the input's first byte, as client_connection feeds it) gives the
// same requests and the same error as parsed whole, and no byte is looked at more than a few
// times.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "protocol/request_parser.hpp"

namespace {

using baton::protocol::parse_status;
using baton::protocol::request_limits;
using baton::protocol::request_parser;

// Small limits, so that inputs of a few KB reach every limit's check.
constexpr request_limits limits{2048, 16, 512};

struct run {
  std::vector<std::vector<std::string>> requests;
  std::string error;
  std::uint64_t examined = 0;
  std::size_t calls = 0;
};

void require(bool condition, const char* what) {
  if (condition) return;
  std::fprintf(stderr, "request_parser_fuzz: %s\n", what);
  std::abort();
}

// Appends the input `piece` bytes at a time to a buffer and parses what is buffered after
// each, dropping whole requests from its front, as client_connection does.
run parse_in_pieces(const std::string& input, std::size_t piece) {
  request_parser parser(limits);
  run out;
  std::string buffer;
  std::vector<std::string> args;
  for (std::size_t fed = 0; fed < input.size();) {
    auto n = std::min(piece, input.size() - fed);
    buffer.append(input, fed, n);
    fed += n;
    for (;;) {
      ++out.calls;
      auto r = parser.parse(buffer.data(), buffer.size(), args);
      require(r.consumed <= buffer.size(), "consumed more than it was given");
      if (r.status == parse_status::need_more) break;
      if (r.status == parse_status::error) {
        require(r.error.rfind("ERR Protocol error: ", 0) == 0, "error without its prefix");
        out.error = r.error;
        out.examined = parser.bytes_examined();
        return out;
      }
      require(r.consumed > 0, "a complete request of no bytes");
      out.requests.push_back(args);
      buffer.erase(0, r.consumed);
      if (buffer.empty()) break;
    }
  }
  out.examined = parser.bytes_examined();
  return out;
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  std::size_t piece = 1 + data[0] % 16;
  std::string input(reinterpret_cast<const char*>(data) + 1, size - 1);
  auto whole = parse_in_pieces(input, input.size() + 1);
  auto pieces = parse_in_pieces(input, piece);
  require(whole.requests == pieces.requests, "pieces parsed to other requests");
  require(whole.error == pieces.error, "pieces parsed to another error");
  // Each byte is searched once, its digits read once, its argument copied once; each call
  // may look at a few bytes again (the element it stopped in).
  require(pieces.examined <= 3 * input.size() + 40 * pieces.calls, "bytes looked at again");
  return 0;
}
