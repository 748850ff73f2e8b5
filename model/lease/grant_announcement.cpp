// See grant_announcement.hpp.
#include "model/lease/grant_announcement.hpp"

#include <cctype>
#include <cstdlib>

namespace baton::lease {

namespace {

// The next space-separated word of `text` from `at`, moving `at` past it and its space.
std::string next_word(const std::string& text, std::size_t& at) {
  auto space = text.find(' ', at);
  auto word = text.substr(at, space == std::string::npos ? std::string::npos : space - at);
  at = space == std::string::npos ? text.size() : space + 1;
  return word;
}

bool is_number(const std::string& word) {
  if (word.empty() || word.size() > 18) return false;
  for (char c : word)
    if (!std::isdigit(static_cast<unsigned char>(c))) return false;
  return true;
}

} // namespace

std::optional<grant_announcement> parse_grant_announcement(const std::string& payload) {
  std::size_t at = 0;
  if (next_word(payload, at) != "acquired") return std::nullopt;
  auto token = next_word(payload, at);
  auto ttl = next_word(payload, at);
  if (!is_number(token) || !is_number(ttl)) return std::nullopt;
  grant_announcement g;
  g.holder.token = std::strtoll(token.c_str(), nullptr, 10);
  g.ttl = std::chrono::milliseconds(std::strtoll(ttl.c_str(), nullptr, 10));
  if (g.holder.token <= 0) return std::nullopt;
  g.holder.node = next_word(payload, at);
  // "uid=<n>" or "uid=-" from daemons that announce the uid; anything else begins the meta.
  if (payload.compare(at, 4, "uid=") == 0) {
    auto word = next_word(payload, at);
    auto uid = word.substr(4);
    if (is_number(uid)) g.holder.uid = std::strtoll(uid.c_str(), nullptr, 10);
  }
  g.holder.meta = payload.substr(at);
  return g;
}

} // namespace baton::lease
