// Parses client requests of the local API: RESP arrays of bulk strings (what every Redis
// client sends) and inline commands (what a human types into nc). The limits are checked
// while parsing, before anything is allocated, so a hostile "*2147483647" or "$9999999999"
// costs nothing. (hiredis' reader would allocate first; it parses replies from Redis instead.)
// The parser is resumable: a request that arrives in many small reads is read once, not again
// from its start on every read, so a request trickled in byte by byte costs linear time.
#pragma once

#include <cstddef>
#include <cstdint>
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

  /// Parses the request in progress from [data, data+size), which starts where that request
  /// starts. After `need_more`, call again with the same bytes and more appended (the buffer
  /// may have moved): parsing resumes where it stopped. After `complete` or `error` the next
  /// call starts a new request. On `complete`, `args` holds the arguments (an empty vector for
  /// an empty request, which callers skip); otherwise `args` is left empty. Passing fewer
  /// bytes than the previous call breaks the contract and aborts.
  parse_result parse(const char* data, std::size_t size, std::vector<std::string>& args);

  /// Forgets the request in progress, for a caller that drops its bytes.
  void reset();

  /// Bytes looked at so far (searched, checked or copied), over the parser's life: observable
  /// so a test can show that each byte of a trickled request is looked at a bounded number
  /// of times.
  std::uint64_t bytes_examined() const { return examined_; }

private:
  /// Where the request in progress is.
  enum class stage {
    start,        ///< nothing read yet
    array_header, ///< reading "*<count>\r\n"
    bulk_header,  ///< reading "$<length>\r\n" of the next argument, at `pos_`
    bulk_body,    ///< waiting for an argument's bytes and their CRLF, ending at `pos_`
    inline_line,  ///< looking for the newline that ends an inline command
  };
  struct span {
    std::size_t offset, length;
  };

  parse_result continue_multibulk(const char* data, std::size_t size,
                                  std::vector<std::string>& args);
  parse_result continue_inline(const char* data, std::size_t size, std::vector<std::string>& args);
  std::size_t find_crlf(const char* data, std::size_t size);

  request_limits limits_;
  stage stage_ = stage::start;
  std::size_t seen_ = 0;      ///< bytes the previous call was given (the contract's check)
  std::size_t pos_ = 0;       ///< the current element's start (or, in bulk_body, its end)
  std::size_t scan_from_ = 0; ///< where the search for the current line's end resumes
  std::size_t arguments_left_ = 0;
  std::vector<span> spans_; ///< the arguments read so far, as offsets from the request's start
  std::uint64_t examined_ = 0;
};

} // namespace baton::protocol
