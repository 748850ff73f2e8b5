// Parsing a secret's record; see secret_record.hpp.
#include "model/secret/secret_record.hpp"

#include <cstdlib>

namespace baton::secret {
namespace {

std::int64_t number(const std::string& text) {
  return std::strtoll(text.c_str(), nullptr, 10);
}

// "v12.state" -> (12, "state"); false for the record's own fields.
bool version_field(const std::string& field, std::int64_t& version, std::string& name) {
  if (field.size() < 4 || field[0] != 'v') return false;
  auto dot = field.find('.');
  if (dot == std::string::npos || dot < 2) return false;
  for (std::size_t i = 1; i < dot; ++i)
    if (field[i] < '0' || field[i] > '9') return false;
  version = number(field.substr(1, dot - 1));
  name = field.substr(dot + 1);
  return true;
}

} // namespace

bool parse_record(const redis_link::redis_reply& reply, secret_record& out) {
  using redis_link::reply_kind;
  if (reply.kind != reply_kind::array || reply.elements.empty() ||
      reply.elements[0].kind != reply_kind::integer || reply.elements.size() % 2 != 1)
    return false;
  out = secret_record{};
  out.redis_now_ms = reply.elements[0].integer;
  for (std::size_t i = 1; i + 1 < reply.elements.size(); i += 2) {
    const auto& field = reply.elements[i].str;
    const auto& value = reply.elements[i + 1].str;
    std::int64_t version = 0;
    std::string name;
    if (version_field(field, version, name)) {
      auto& v = out.versions[version];
      if (name == "state")
        v.state = value;
      else if (name == "kek")
        v.sealed.kek_id = value;
      else if (name == "wkey")
        v.sealed.wrapped_key = value;
      else if (name == "ct")
        v.sealed.ciphertext = value;
      else if (name == "created")
        v.created_ms = number(value);
      else if (name == "promoted")
        v.promoted_ms = number(value);
      else if (name == "grace_until")
        v.grace_until_ms = number(value);
      else if (name == "retired")
        v.retired_ms = number(value);
    } else if (field == "epoch") {
      out.epoch = number(value);
    } else if (field == "incarnation") {
      out.incarnation = value;
    } else if (field == "current") {
      out.current = number(value);
    } else if (field == "pending") {
      out.pending = number(value);
    } else if (field == "rotated_at") {
      out.rotated_at_ms = number(value);
    }
  }
  // A version whose fields were all removed (pruned) leaves nothing behind.
  for (auto it = out.versions.begin(); it != out.versions.end();)
    it = it->second.state.empty() ? out.versions.erase(it) : std::next(it);
  return true;
}

} // namespace baton::secret
