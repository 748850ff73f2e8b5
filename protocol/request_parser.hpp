// Parses client requests of the local API: RESP arrays of bulk strings (what every Redis
// client sends) and inline commands (what a human types into nc). The limits are checked
// while parsing, before anything is allocated, so a hostile "*2147483647" or "$9999999999"
// costs nothing. (hiredis' reader would allocate first; it parses replies from Redis instead.)
#pragma once

#include <cstddef>
#include <string>
#include <vector>

namespace baton::protocol {

struct request_limits {
  std::size_t max_request_bytes = 4 * 1024 * 1024; ///< one whole request, headers included
  std::size_t max_arguments = 4096;                ///< arguments in one request
  std::size_t max_inline_bytes = 64 * 1024;        ///< one inline command line
};

enum class parse_status {
  complete,  ///< one request parsed; `consumed` bytes used
  need_more, ///< the buffer holds only part of a request
  error,     ///< malformed or over a limit: answer the error, then close
};

struct parse_result {
  parse_status status = parse_status::need_more;
  std::size_t consumed = 0;
  std::string error; ///< full error text for the client, e.g. "ERR Protocol error: ..."
};

class request_parser {
public:
  explicit request_parser(request_limits limits = {}) : limits_(limits) {}

  /// Parses one request from the start of [data, data+size). On `complete`, `args` holds
  /// the arguments (an empty vector for an empty request, which callers skip).
  parse_result parse(const char* data, std::size_t size, std::vector<std::string>& args) const;

private:
  parse_result parse_multibulk(const char* data, std::size_t size,
                               std::vector<std::string>& args) const;
  parse_result parse_inline(const char* data, std::size_t size,
                            std::vector<std::string>& args) const;

  request_limits limits_;
};

} // namespace baton::protocol
