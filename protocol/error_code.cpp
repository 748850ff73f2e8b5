// The error vocabulary; see error_code.hpp.
#include "protocol/error_code.hpp"

namespace baton::protocol {

std::string_view code_word(error_code code) {
  switch (code) {
    case error_code::err: return "ERR";
    case error_code::noproto: return "NOPROTO";
    case error_code::noperm: return "NOPERM";
    case error_code::unavailable: return "UNAVAILABLE";
    case error_code::denied: return "DENIED";
    case error_code::lost: return "LOST";
    case error_code::notheld: return "NOTHELD";
    case error_code::draining: return "DRAINING";
    case error_code::moved: return "MOVED";
    case error_code::refused: return "REFUSED";
    case error_code::busy: return "BUSY";
    case error_code::conflict: return "CONFLICT";
    case error_code::unknown: return "UNKNOWN";
  }
  return "ERR";
}

std::optional<error_code> parse_error_code(std::string_view text) {
  auto word = text.substr(0, text.find(' '));
  for (auto code : all_error_codes)
    if (code_word(code) == word) return code;
  return std::nullopt;
}

std::string error_text(error_code code, std::string_view why) {
  std::string text(code_word(code));
  if (!why.empty()) {
    text += ' ';
    text += why;
  }
  return text;
}

} // namespace baton::protocol
