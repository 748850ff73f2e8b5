// Reading fields out of map replies (RESP3 maps, or RESP2's flat key/value arrays) in tests.
#pragma once

#include <cstdint>
#include <stdexcept>
#include <string>

#include "protocol/resp_client.hpp"

namespace baton::test {

inline const protocol::resp_value* find_field(const protocol::resp_value& map,
                                              const std::string& key) {
  for (std::size_t i = 0; i + 1 < map.elements.size(); i += 2)
    if (map.elements[i].str == key) return &map.elements[i + 1];
  return nullptr;
}

/// The integer at `key`; throws (failing the test) if there is none.
inline std::int64_t field(const protocol::resp_value& map, const std::string& key) {
  if (const auto* v = find_field(map, key)) return v->integer;
  throw std::runtime_error("no field " + key + " in " + map.to_string());
}

/// The text at `key`, or empty.
inline std::string text_field(const protocol::resp_value& map, const std::string& key) {
  const auto* v = find_field(map, key);
  return v ? v->str : std::string();
}

/// Whether a reply's text (an error's, a status') begins with `prefix`.
inline bool starts_with(const protocol::resp_value& reply, const std::string& prefix) {
  return reply.str.rfind(prefix, 0) == 0;
}

} // namespace baton::test
