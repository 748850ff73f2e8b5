// Numbers in a command's arguments: what every family parses (a TTL, a count, a version)
// without pulling the families' headers in for one small function.
#pragma once

#include <cstdint>
#include <string>

namespace baton {

/// Parses a non-negative decimal integer that fits in int64 (at most 18 digits); false for
/// anything else (a sign, a space, an empty string).
inline bool parse_non_negative(const std::string& text, std::int64_t& out) {
  if (text.empty() || text.size() > 18) return false;
  std::int64_t value = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return false;
    value = value * 10 + (c - '0');
  }
  out = value;
  return true;
}

} // namespace baton
