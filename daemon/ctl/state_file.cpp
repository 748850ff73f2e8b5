// The export file's lines; see state_file.hpp.
#include "daemon/ctl/state_file.hpp"

#include <chrono>
#include <stdexcept>

namespace baton::ctl {
namespace {

constexpr char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

int sextet(char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '+') return 62;
  if (c == '/') return 63;
  return -1;
}

void put_text(nlohmann::json& line, const char* plain, const char* encoded, std::string_view s) {
  if (printable_utf8(s))
    line[plain] = std::string(s);
  else
    line[encoded] = base64_encode(s);
}

std::string get_text(const nlohmann::json& line, const char* plain, const char* encoded) {
  if (line.contains(plain) && line[plain].is_string()) return line[plain].get<std::string>();
  if (line.contains(encoded) && line[encoded].is_string())
    return base64_decode(line[encoded].get<std::string>());
  throw std::runtime_error(std::string("an entry without ") + plain);
}

} // namespace

std::string base64_encode(std::string_view bytes) {
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  std::size_t i = 0;
  for (; i + 2 < bytes.size(); i += 3) {
    auto n = (static_cast<unsigned char>(bytes[i]) << 16) |
             (static_cast<unsigned char>(bytes[i + 1]) << 8) |
             static_cast<unsigned char>(bytes[i + 2]);
    for (int shift : {18, 12, 6, 0})
      out.push_back(alphabet[(n >> shift) & 63]);
  }
  if (i < bytes.size()) {
    auto n = static_cast<unsigned char>(bytes[i]) << 16;
    if (i + 1 < bytes.size()) n |= static_cast<unsigned char>(bytes[i + 1]) << 8;
    out.push_back(alphabet[(n >> 18) & 63]);
    out.push_back(alphabet[(n >> 12) & 63]);
    out.push_back(i + 1 < bytes.size() ? alphabet[(n >> 6) & 63] : '=');
    out.push_back('=');
  }
  return out;
}

std::string base64_decode(std::string_view text) {
  if (text.size() % 4 != 0) throw std::runtime_error("not base64: its length");
  std::string out;
  out.reserve(text.size() / 4 * 3);
  for (std::size_t i = 0; i < text.size(); i += 4) {
    int pad = 0;
    std::uint32_t n = 0;
    for (std::size_t j = 0; j < 4; ++j) {
      char c = text[i + j];
      if (c == '=' && i + 4 == text.size() && j >= 2) {
        ++pad;
        n <<= 6;
        continue;
      }
      auto v = sextet(c);
      if (v < 0 || pad > 0) throw std::runtime_error("not base64");
      n = (n << 6) | static_cast<std::uint32_t>(v);
    }
    out.push_back(static_cast<char>((n >> 16) & 0xff));
    if (pad < 2) out.push_back(static_cast<char>((n >> 8) & 0xff));
    if (pad < 1) out.push_back(static_cast<char>(n & 0xff));
  }
  return out;
}

bool printable_utf8(std::string_view text) {
  for (std::size_t i = 0; i < text.size();) {
    auto c = static_cast<unsigned char>(text[i]);
    if (c < 0x80) {
      if (c < 0x20 || c == 0x7f) return false;
      ++i;
      continue;
    }
    std::size_t extra = 0;
    std::uint32_t code = 0;
    if ((c & 0xe0) == 0xc0) {
      extra = 1;
      code = c & 0x1f;
    } else if ((c & 0xf0) == 0xe0) {
      extra = 2;
      code = c & 0x0f;
    } else if ((c & 0xf8) == 0xf0) {
      extra = 3;
      code = c & 0x07;
    } else {
      return false;
    }
    if (i + extra >= text.size()) return false;
    for (std::size_t j = 1; j <= extra; ++j) {
      auto next = static_cast<unsigned char>(text[i + j]);
      if ((next & 0xc0) != 0x80) return false;
      code = (code << 6) | (next & 0x3f);
    }
    // Overlong forms, surrogates and code points past Unicode are not UTF-8.
    if ((extra == 1 && code < 0x80) || (extra == 2 && code < 0x800) ||
        (extra == 3 && code < 0x10000) || (code >= 0xd800 && code <= 0xdfff) || code > 0x10ffff)
      return false;
    i += extra + 1;
  }
  return true;
}

std::string entry_line(const state_file_entry& e) {
  nlohmann::json line = nlohmann::json::object();
  put_text(line, "k", "k64", e.key);
  put_text(line, "v", "v64", e.value);
  line["ver"] = e.version;
  line["expires_ms"] = e.expires_ms;
  return line.dump();
}

std::optional<state_file_entry> parse_entry(const nlohmann::json& line) {
  if (!line.is_object() || !(line.contains("k") || line.contains("k64"))) return std::nullopt;
  state_file_entry e;
  e.key = get_text(line, "k", "k64");
  e.value = get_text(line, "v", "v64");
  if (!line.contains("ver") || !line["ver"].is_number_integer() || line["ver"].get<std::int64_t>() < 1)
    throw std::runtime_error("an entry without a positive version");
  e.version = line["ver"].get<std::int64_t>();
  if (line.contains("expires_ms")) {
    if (!line["expires_ms"].is_number_integer())
      throw std::runtime_error("an entry whose expires_ms is not a number");
    e.expires_ms = line["expires_ms"].get<std::int64_t>();
  }
  return e;
}

std::int64_t unix_ms_now() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

} // namespace baton::ctl
