// RESP2/RESP3 reply encoding; see reply_writer.hpp.
#include "protocol/reply_writer.hpp"

#include <charconv>
#include <cstdio>

namespace baton::protocol {

std::string one_line(std::string_view text) {
  std::string result(text);
  for (auto& c : result)
    if (c == '\r' || c == '\n') c = ' ';
  return result;
}

void reply_writer::header(char type, std::int64_t count) {
  char buffer[24];
  auto [end, ec] = std::to_chars(buffer, buffer + sizeof(buffer), count);
  (void)ec;
  out_ += type;
  out_.append(buffer, end);
  out_ += "\r\n";
}

void reply_writer::simple(std::string_view text) {
  out_ += '+';
  out_ += one_line(text);
  out_ += "\r\n";
}

void reply_writer::error(std::string_view text) {
  out_ += '-';
  out_ += one_line(text);
  out_ += "\r\n";
}

void reply_writer::error(error_code code, std::string_view why) {
  error(error_text(code, why));
}

void reply_writer::integer(std::int64_t value) {
  header(':', value);
}

void reply_writer::bulk(std::string_view data) {
  header('$', static_cast<std::int64_t>(data.size()));
  out_.append(data);
  out_ += "\r\n";
}

void reply_writer::null() {
  out_ += resp3_ ? "_\r\n" : "$-1\r\n";
}

void reply_writer::boolean(bool value) {
  if (resp3_)
    out_ += value ? "#t\r\n" : "#f\r\n";
  else
    integer(value ? 1 : 0);
}

void reply_writer::floating(double value) {
  char buffer[64];
  int length = std::snprintf(buffer, sizeof(buffer), "%.17g", value);
  if (resp3_) {
    out_ += ',';
    out_.append(buffer, static_cast<std::size_t>(length));
    out_ += "\r\n";
  } else {
    bulk(std::string_view(buffer, static_cast<std::size_t>(length)));
  }
}

void reply_writer::array(std::size_t count) {
  header('*', static_cast<std::int64_t>(count));
}

void reply_writer::map(std::size_t count) {
  if (resp3_)
    header('%', static_cast<std::int64_t>(count));
  else
    header('*', static_cast<std::int64_t>(count * 2));
}

void reply_writer::push(std::size_t count) {
  header(resp3_ ? '>' : '*', static_cast<std::int64_t>(count));
}

} // namespace baton::protocol
