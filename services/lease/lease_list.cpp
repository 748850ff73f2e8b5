// LEASE LIST: the names of leases held (or in lock-delay), by a SCAN over Redis; part of
// lease_service (see lease_service.hpp).
#include <algorithm>

#include "model/lease/lease_keys.hpp"
#include "services/lease/lease_outcomes.hpp"
#include "services/lease/lease_service.hpp"

namespace baton::lease {

using redis_link::redis_reply;
using redis_link::reply_kind;

struct list_scan {
  std::string match;
  std::string key_prefix; ///< "<prefix>:lease:{"
  std::string cursor = "0";
  std::vector<std::string> names;
  std::size_t steps = 0;
  lease_callback<std::vector<std::string>> done;
};

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
  auto scan = std::make_shared<list_scan>();
  scan->key_prefix = settings_.prefix + ":lease:{";
  scan->match = escape_glob(scan->key_prefix) + pattern + "}";
  scan->done = std::move(done);
  scan_step(scan);
}

void lease_service::scan_step(std::shared_ptr<list_scan> scan) {
  redis_.call({"SCAN", scan->cursor, "MATCH", scan->match, "COUNT", "1000"},
              [this, scan](redis_reply reply) {
                if (reply.kind != reply_kind::array || reply.elements.size() != 2)
                  return scan->done(unexpected(reply));
                scan->cursor = reply.elements[0].str;
                for (const auto& key : reply.elements[1].elements) {
                  const auto& k = key.str;
                  if (k.size() > scan->key_prefix.size() + 1 && k.back() == '}')
                    scan->names.push_back(
                        k.substr(scan->key_prefix.size(), k.size() - scan->key_prefix.size() - 1));
                }
                if (scan->cursor != "0" && scan->names.size() < list_limit &&
                    ++scan->steps < list_max_steps)
                  return scan_step(scan);
                auto names = std::move(scan->names);
                std::sort(names.begin(), names.end());
                names.erase(std::unique(names.begin(), names.end()), names.end());
                if (names.size() > list_limit) names.resize(list_limit);
                scan->done(std::move(names));
              });
}

} // namespace baton::lease
