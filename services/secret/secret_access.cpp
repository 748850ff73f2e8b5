// Secret access decisions; see secret_access.hpp.
#include "services/secret/secret_access.hpp"

#include <algorithm>

namespace baton {
namespace {

bool name_matches(const std::string& pattern, const std::string& name) {
  if (!pattern.empty() && pattern.back() == '*')
    return name.compare(0, pattern.size() - 1, pattern, 0, pattern.size() - 1) == 0;
  return pattern == name;
}

bool names_caller(const secret::secret_access_rule& rule, const peer_credentials& peer) {
  return std::find(rule.uids.begin(), rule.uids.end(), peer.uid) != rule.uids.end() ||
         std::any_of(rule.gids.begin(), rule.gids.end(), [&](gid_t g) { return peer.in_group(g); });
}

} // namespace

bool secret_allowed(const secret::secrets_config& config, const access_policy& access,
                    const peer_credentials& peer, secret_verb verb, const std::string& name) {
  if (peer.uid == 0) return true;
  bool admin_group = access.is_admin(peer);
  if (config.access.empty()) return verb != secret_verb::admin || admin_group;
  if (admin_group && (verb == secret_verb::admin || verb == secret_verb::look)) return true;
  for (const auto& rule : config.access) {
    if (!names_caller(rule, peer)) continue;
    if (std::none_of(rule.names.begin(), rule.names.end(),
                     [&](const std::string& p) { return name_matches(p, name); }))
      continue;
    switch (verb) {
    case secret_verb::get:
      if (rule.get) return true;
      break;
    case secret_verb::verify:
      if (rule.verify) return true;
      break;
    case secret_verb::admin:
      if (rule.admin) return true;
      break;
    case secret_verb::look:
      if (rule.get || rule.verify || rule.admin) return true;
      break;
    }
  }
  return false;
}

const char* verb_name(secret_verb verb) {
  switch (verb) {
  case secret_verb::get:
    return "get";
  case secret_verb::verify:
    return "verify";
  case secret_verb::admin:
    return "admin";
  case secret_verb::look:
    return "info";
  }
  return "?";
}

} // namespace baton
