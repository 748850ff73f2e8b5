// Comparing a cached secret with Redis' word on it; see secret_identity.hpp.
#include "model/secret/secret_identity.hpp"

#include <charconv>
#include <vector>

namespace baton::secret {
namespace {

bool number(std::string_view text, std::int64_t& out) {
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
  return ec == std::errc() && end == text.data() + text.size();
}

} // namespace

std::optional<secret_announcement> parse_announcement(std::string_view payload) {
  std::vector<std::string_view> words;
  while (!payload.empty()) {
    auto space = payload.find(' ');
    words.push_back(payload.substr(0, space));
    payload = space == std::string_view::npos ? std::string_view() : payload.substr(space + 1);
  }
  if (words.size() < 3 || words.size() > 4 || words[0] != "changed" || words[1].empty())
    return std::nullopt;
  secret_announcement a;
  a.name = std::string(words[1]);
  if (!number(words[2], a.identity.epoch)) return std::nullopt;
  if (words.size() == 4) a.identity.incarnation = std::string(words[3]);
  return a;
}

std::optional<secret_identity> parse_ack_reply(const redis_link::redis_reply& reply) {
  using redis_link::reply_kind;
  secret_identity id;
  if (reply.kind != reply_kind::array || reply.elements.size() != 2 ||
      reply.elements[0].kind != reply_kind::integer || reply.elements[1].kind != reply_kind::string)
    return std::nullopt;
  id.epoch = reply.elements[0].integer;
  id.incarnation = reply.elements[1].str;
  return id;
}

bool same_history(const served_secret& served, const secret_identity& now) {
  return served.epoch == now.epoch && (!now.incarnation || *now.incarnation == served.incarnation);
}

} // namespace baton::secret
