// STATE's key layout; see state_keys.hpp.
#include "services/state/state_keys.hpp"

#include <unordered_map>

#include "redis/cluster_map.hpp"

namespace baton::state {

std::string entry_key(const state_namespace& ns, std::string_view key) {
  std::string out;
  out.reserve(ns.key_prefix.size() + key.size() + 2);
  out.append(ns.key_prefix).append("{").append(key).append("}");
  return out;
}

std::optional<std::string> app_key(const state_namespace& ns, std::string_view redis_key) {
  auto head = ns.key_prefix.size() + 1;
  if (redis_key.size() < head + 1 || redis_key.compare(0, ns.key_prefix.size(), ns.key_prefix) ||
      redis_key[head - 1] != '{' || redis_key.back() != '}')
    return std::nullopt;
  return std::string(redis_key.substr(head, redis_key.size() - head - 1));
}

std::string glob_escape(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    if (c == '*' || c == '?' || c == '[' || c == ']' || c == '\\') out.push_back('\\');
    out.push_back(c);
  }
  return out;
}

std::string entry_pattern(const state_namespace& ns, std::string_view prefix) {
  return glob_escape(ns.key_prefix) + "{" + glob_escape(prefix) + "*";
}

std::vector<std::vector<std::size_t>> group_by_slot(const std::vector<std::string>& redis_keys,
                                                    bool clustered) {
  std::vector<std::vector<std::size_t>> groups;
  if (redis_keys.empty()) return groups;
  if (!clustered) {
    groups.emplace_back(redis_keys.size());
    for (std::size_t i = 0; i < redis_keys.size(); ++i)
      groups[0][i] = i;
    return groups;
  }
  std::unordered_map<std::uint16_t, std::size_t> group_of_slot;
  for (std::size_t i = 0; i < redis_keys.size(); ++i) {
    auto slot = redis_link::key_slot(redis_keys[i]);
    auto [it, fresh] = group_of_slot.emplace(slot, groups.size());
    if (fresh) groups.emplace_back();
    groups[it->second].push_back(i);
  }
  return groups;
}

} // namespace baton::state
