// RESP request parsing with limits; see request_parser.hpp.
#include "protocol/request_parser.hpp"

#include <cstring>

namespace baton::protocol {
namespace {

parse_result fail(std::string message) {
  return {parse_status::error, 0, "ERR Protocol error: " + std::move(message)};
}

// Finds "\r\n" starting at `from`; returns its offset or npos.
std::size_t find_crlf(const char* data, std::size_t size, std::size_t from) {
  for (std::size_t i = from; i + 1 < size; ++i) {
    if (data[i] == '\r' && data[i + 1] == '\n') return i;
  }
  return std::string::npos;
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

parse_result request_parser::parse(const char* data, std::size_t size,
                                   std::vector<std::string>& args) const {
  args.clear();
  if (size == 0) return {};
  if (data[0] == '*') return parse_multibulk(data, size, args);
  return parse_inline(data, size, args);
}

parse_result request_parser::parse_multibulk(const char* data, std::size_t size,
                                             std::vector<std::string>& args) const {
  // Header line "*<count>\r\n". A header line longer than 32 bytes is garbage.
  std::size_t eol = find_crlf(data, size, 1);
  if (eol == std::string::npos)
    return size > 32 ? fail("invalid multibulk length") : parse_result{};
  long long count = 0;
  if (!parse_int(data + 1, data + eol, count) || count > 1024 * 1024)
    return fail("invalid multibulk length");
  if (count > static_cast<long long>(limits_.max_arguments))
    return fail("too many arguments (limit " + std::to_string(limits_.max_arguments) + ")");
  std::size_t pos = eol + 2;
  if (count <= 0) return {parse_status::complete, pos, {}};
  // First pass: check that the whole request is present, without copying.
  struct span {
    std::size_t offset, length;
  };
  std::vector<span> spans;
  spans.reserve(static_cast<std::size_t>(count));
  for (long long i = 0; i < count; ++i) {
    if (pos >= size) return {};
    if (data[pos] != '$') return fail(std::string("expected '$', got '") + data[pos] + "'");
    std::size_t line_end = find_crlf(data, size, pos + 1);
    if (line_end == std::string::npos)
      return size - pos > 32 ? fail("invalid bulk length") : parse_result{};
    long long length = 0;
    if (!parse_int(data + pos + 1, data + line_end, length) || length < 0)
      return fail("invalid bulk length");
    if (static_cast<unsigned long long>(length) > limits_.max_request_bytes ||
        line_end + 2 + static_cast<std::size_t>(length) > limits_.max_request_bytes)
      return fail("request larger than the limit of " + std::to_string(limits_.max_request_bytes) +
                  " bytes");
    std::size_t body = line_end + 2;
    std::size_t next = body + static_cast<std::size_t>(length) + 2;
    if (next > size) return {};
    if (data[next - 2] != '\r' || data[next - 1] != '\n')
      return fail("bulk string not terminated by CRLF");
    spans.push_back({body, static_cast<std::size_t>(length)});
    pos = next;
  }
  args.reserve(spans.size());
  for (const auto& s : spans)
    args.emplace_back(data + s.offset, s.length);
  return {parse_status::complete, pos, {}};
}

parse_result request_parser::parse_inline(const char* data, std::size_t size,
                                          std::vector<std::string>& args) const {
  const void* newline = std::memchr(data, '\n', size);
  if (newline == nullptr)
    return size > limits_.max_inline_bytes ? fail("too big inline request") : parse_result{};
  std::size_t line_length = static_cast<const char*>(newline) - data;
  if (line_length > limits_.max_inline_bytes) return fail("too big inline request");
  std::size_t end = line_length;
  if (end > 0 && data[end - 1] == '\r') --end;
  // Whitespace-separated words; quoting is not supported inline (use a RESP client).
  std::size_t i = 0;
  while (i < end) {
    while (i < end && (data[i] == ' ' || data[i] == '\t'))
      ++i;
    std::size_t start = i;
    while (i < end && data[i] != ' ' && data[i] != '\t')
      ++i;
    if (i > start) {
      if (args.size() == limits_.max_arguments)
        return fail("too many arguments (limit " + std::to_string(limits_.max_arguments) + ")");
      args.emplace_back(data + start, i - start);
    }
  }
  return {parse_status::complete, line_length + 1, {}};
}

} // namespace baton::protocol
