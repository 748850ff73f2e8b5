// RESP request parsing with limits; see request_parser.hpp.
#include "protocol/request_parser.hpp"

#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace baton::protocol {
namespace {

parse_result fail(std::string message) {
  return {parse_status::error, 0, "ERR Protocol error: " + std::move(message)};
}

// Parses a decimal integer in [begin, end). Returns false for anything else,
// including an empty string, a sign other than a leading '-', or overflow.
bool parse_int(const char* begin, const char* end, long long& out) {
  if (begin == end || end - begin > 18) return false;
  bool negative = *begin == '-';
  if (negative && ++begin == end) return false;
  long long value = 0;
  for (const char* p = begin; p != end; ++p) {
    if (*p < '0' || *p > '9') return false;
    value = value * 10 + (*p - '0');
  }
  out = negative ? -value : value;
  return true;
}

} // namespace

void request_parser::reset() {
  stage_ = stage::start;
  seen_ = 0;
  pos_ = 0;
  scan_from_ = 0;
  arguments_left_ = 0;
  // A huge request's offsets are not kept for the life of the connection.
  if (spans_.capacity() > 256)
    spans_ = {};
  else
    spans_.clear();
}

parse_result request_parser::parse(const char* data, std::size_t size,
                                   std::vector<std::string>& args) {
  args.clear();
  if (size < seen_) {
    // The caller dropped bytes of the request in progress: our offsets would point past them.
    std::fprintf(stderr, "request_parser: called with %zu bytes after %zu\n", size, seen_);
    std::abort();
  }
  seen_ = size;
  if (size == 0) return {};
  if (stage_ == stage::start) {
    ++examined_;
    stage_ = data[0] == '*' ? stage::array_header : stage::inline_line;
    scan_from_ = data[0] == '*' ? 1 : 0;
  }
  auto result = stage_ == stage::inline_line ? continue_inline(data, size, args)
                                             : continue_multibulk(data, size, args);
  if (result.status != parse_status::need_more) reset();
  return result;
}

// Finds "\r\n" from where the last search stopped; returns its offset or npos. When absent,
// the search resumes at the last byte next time: it may be a '\r' whose '\n' is on its way.
std::size_t request_parser::find_crlf(const char* data, std::size_t size) {
  for (std::size_t i = scan_from_; i + 1 < size; ++i) {
    ++examined_;
    if (data[i] == '\r' && data[i + 1] == '\n') return i;
  }
  if (size > scan_from_ + 1) scan_from_ = size - 1;
  return std::string::npos;
}

parse_result request_parser::continue_multibulk(const char* data, std::size_t size,
                                                std::vector<std::string>& args) {
  if (stage_ == stage::array_header) {
    // Header line "*<count>\r\n". A header line longer than 32 bytes is garbage.
    std::size_t eol = find_crlf(data, size);
    if (eol == std::string::npos)
      return size > 32 ? fail("invalid multibulk length") : parse_result{};
    long long count = 0;
    examined_ += eol - 1;
    if (!parse_int(data + 1, data + eol, count) || count > 1024 * 1024)
      return fail("invalid multibulk length");
    if (count > static_cast<long long>(limits_.max_arguments))
      return fail("too many arguments (limit " + std::to_string(limits_.max_arguments) + ")");
    pos_ = eol + 2;
    if (count <= 0) return {parse_status::complete, pos_, {}};
    arguments_left_ = static_cast<std::size_t>(count);
    spans_.reserve(arguments_left_);
    stage_ = stage::bulk_header;
    scan_from_ = pos_ + 1;
  }
  for (;;) {
    if (stage_ == stage::bulk_header) {
      if (pos_ >= size) return {};
      ++examined_;
      if (data[pos_] != '$') return fail(std::string("expected '$', got '") + data[pos_] + "'");
      std::size_t line_end = find_crlf(data, size);
      if (line_end == std::string::npos)
        return size - pos_ > 32 ? fail("invalid bulk length") : parse_result{};
      long long length = 0;
      examined_ += line_end - pos_ - 1;
      if (!parse_int(data + pos_ + 1, data + line_end, length) || length < 0)
        return fail("invalid bulk length");
      if (static_cast<unsigned long long>(length) > limits_.max_request_bytes ||
          line_end + 2 + static_cast<std::size_t>(length) > limits_.max_request_bytes)
        return fail("request larger than the limit of " +
                    std::to_string(limits_.max_request_bytes) + " bytes");
      std::size_t body = line_end + 2;
      spans_.push_back({body, static_cast<std::size_t>(length)});
      pos_ = body + static_cast<std::size_t>(length) + 2;
      stage_ = stage::bulk_body;
    }
    // The argument's bytes are not looked at until the whole request is here.
    if (pos_ > size) return {};
    examined_ += 2;
    if (data[pos_ - 2] != '\r' || data[pos_ - 1] != '\n')
      return fail("bulk string not terminated by CRLF");
    if (--arguments_left_ == 0) break;
    stage_ = stage::bulk_header;
    scan_from_ = pos_ + 1;
  }
  args.reserve(spans_.size());
  for (const auto& s : spans_) {
    examined_ += s.length;
    args.emplace_back(data + s.offset, s.length);
  }
  return {parse_status::complete, pos_, {}};
}

parse_result request_parser::continue_inline(const char* data, std::size_t size,
                                             std::vector<std::string>& args) {
  const void* newline = std::memchr(data + scan_from_, '\n', size - scan_from_);
  if (newline == nullptr) {
    examined_ += size - scan_from_;
    scan_from_ = size;
    return size > limits_.max_inline_bytes ? fail("too big inline request") : parse_result{};
  }
  std::size_t line_length = static_cast<const char*>(newline) - data;
  examined_ += line_length + 1 - scan_from_;
  if (line_length > limits_.max_inline_bytes) return fail("too big inline request");
  std::size_t end = line_length;
  if (end > 0 && data[end - 1] == '\r') --end;
  // Whitespace-separated words; quoting is not supported inline (use a RESP client).
  examined_ += end;
  std::size_t i = 0;
  while (i < end) {
    while (i < end && (data[i] == ' ' || data[i] == '\t'))
      ++i;
    std::size_t start = i;
    while (i < end && data[i] != ' ' && data[i] != '\t')
      ++i;
    if (i > start) {
      if (args.size() == limits_.max_arguments) {
        args.clear();
        return fail("too many arguments (limit " + std::to_string(limits_.max_arguments) + ")");
      }
      args.emplace_back(data + start, i - start);
    }
  }
  return {parse_status::complete, line_length + 1, {}};
}

} // namespace baton::protocol
