// Breaker keys and announcements; see breaker_keys.hpp.
#include "model/breaker/breaker_keys.hpp"

#include <charconv>
#include <vector>

namespace baton::breaker {

breaker_keys keys_for(const std::string& prefix, const std::string& name) {
  auto state = prefix + ":breaker:{" + name + "}";
  return {state, state + ":trips", state + ":probe", state + ":counts"};
}

std::string events_channel(const std::string& prefix) {
  return prefix + ":breaker-events";
}

namespace {

template <class Number>
bool number(std::string_view text, Number& out) {
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
  return ec == std::errc() && end == text.data() + text.size();
}

} // namespace

std::optional<breaker_announcement> parse_announcement(std::string_view payload) {
  std::vector<std::string_view> words;
  while (!payload.empty()) {
    auto space = payload.find(' ');
    words.push_back(payload.substr(0, space));
    payload = space == std::string_view::npos ? std::string_view() : payload.substr(space + 1);
  }
  if (words.size() != 7 || words[0] != "state") return std::nullopt;
  breaker_announcement a;
  auto state = parse_state(words[2]);
  if (!state || words[1].empty() || words[4].empty()) return std::nullopt;
  a.name = std::string(words[1]);
  a.state = *state;
  a.node = std::string(words[4]);
  if (!number(words[3], a.generation) || !number(words[5], a.open_ms) || !number(words[6], a.trips))
    return std::nullopt;
  return a;
}

} // namespace baton::breaker
