// LEASE LIST: the names of leases held (or in lock-delay), by a SCAN over Redis; part of
// lease_service (see lease_service.hpp).
#include <algorithm>

#include "model/lease/lease_keys.hpp"
#include "services/lease/lease_outcomes.hpp"
#include "services/lease/lease_service.hpp"

namespace baton::lease {

using redis_link::redis_reply;
using redis_link::reply_kind;

namespace {
constexpr std::size_t list_limit = 10000;
constexpr std::size_t list_max_steps = 2000;

std::string escape_glob(const std::string& text) {
  std::string out;
  for (char c : text) {
    if (c == '*' || c == '?' || c == '[' || c == ']' || c == '\\') out += '\\';
    out += c;
  }
  return out;
}
} // namespace

void lease_service::list(const std::string& pattern,
                         lease_callback<std::vector<std::string>> done) {
  if (pattern.size() > settings_.max_name_length)
    return done(fail(error_code::err, "pattern is longer than the longest name"));
  for (char c : pattern)
    if (static_cast<unsigned char>(c) <= ' ' || c == '{' || c == '}')
      return done(
          fail(error_code::err, "pattern must not contain spaces, control characters or braces"));
  // On a Cluster, every primary is scanned in turn: a lease lives on its name's slot.
  auto key_prefix = settings_.prefix + ":lease:{";
  auto names = std::make_shared<std::vector<std::string>>();
  auto steps = std::make_shared<std::size_t>(0);
  redis_.scan(
      escape_glob(key_prefix) + pattern + "}",
      [names, steps, key_prefix](std::vector<std::string>& keys) {
        for (const auto& k : keys)
          if (k.size() > key_prefix.size() + 1 && k.back() == '}')
            names->push_back(k.substr(key_prefix.size(), k.size() - key_prefix.size() - 1));
        return names->size() < list_limit && ++*steps < list_max_steps;
      },
      [names, done = std::move(done)](std::optional<std::string> error) {
        if (error) return done(fail(error_code::unavailable, *error));
        std::sort(names->begin(), names->end());
        names->erase(std::unique(names->begin(), names->end()), names->end());
        if (names->size() > list_limit) names->resize(list_limit);
        done(std::move(*names));
      });
}

} // namespace baton::lease
