// A map reply written from its fields in one call, so that its size is counted by the
// compiler, never by hand, and nothing is allocated: `write_map(out, field("allowed", 1),
// field("state", "open"))` writes a map of 2 (RESP3) or a flat array of 4 (RESP2).
#pragma once

#include <cstdint>
#include <string_view>
#include <type_traits>

#include "protocol/reply_writer.hpp"

namespace baton::protocol {

/// One key and its value: an integer (bools become 0 or 1) or text (written as bulk).
struct map_field {
  std::string_view key;
  bool is_text = false;
  std::int64_t integer = 0;
  std::string_view text;
};

template <class Integer, std::enable_if_t<std::is_integral_v<Integer>, int> = 0>
map_field field(std::string_view key, Integer value) {
  return {key, false, static_cast<std::int64_t>(value), {}};
}
inline map_field field(std::string_view key, std::string_view value) {
  return {key, true, 0, value};
}
inline map_field field(std::string_view key, const char* value) {
  return {key, true, 0, value};
}

inline void write_field(reply_writer& out, const map_field& f) {
  out.bulk(f.key);
  if (f.is_text)
    out.bulk(f.text);
  else
    out.integer(f.integer);
}

template <class... Fields>
void write_map(reply_writer& out, const Fields&... fields) {
  out.map(sizeof...(fields));
  (write_field(out, fields), ...);
}

} // namespace baton::protocol
