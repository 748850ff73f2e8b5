// The file `batonctl state export` writes and `state import` reads: JSON lines, so that an
// interrupted export can be resumed from its last complete page and a person can read it.
//   {"baton_state_export":1,"namespace":"orders","started_ms":...}   the header
//   {"k":"cart-1","v":"...","ver":1796...,"expires_ms":0}             an entry per line
//   {"cursor":"17","entries":2000}                                   after each complete page
//   {"done":true,"entries":2000}                                     the end
// A key or value that is not printable UTF-8 is written base64 as "k64" or "v64" instead.
// "expires_ms" is when the entry lapses (Unix ms; 0: never), so an import made later gives it
// only the time it had left, and skips it if that has passed.
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <optional>
#include <string>

namespace baton::ctl {

struct state_file_entry {
  std::string key;
  std::string value;
  std::int64_t version = 0;
  std::int64_t expires_ms = 0; ///< Unix ms; 0: no expiry
};

/// One entry as its line (without the newline).
std::string entry_line(const state_file_entry& e);

/// An entry line read back; nullopt if the line is not an entry (header, checkpoint, end).
/// Throws std::runtime_error for an entry line that is malformed.
std::optional<state_file_entry> parse_entry(const nlohmann::json& line);

std::string base64_encode(std::string_view bytes);
/// Throws std::runtime_error for text that is not base64.
std::string base64_decode(std::string_view text);

/// True for valid UTF-8 without control characters: safe and readable as a JSON string.
bool printable_utf8(std::string_view text);

/// The wall clock in Unix milliseconds.
std::int64_t unix_ms_now();

} // namespace baton::ctl
