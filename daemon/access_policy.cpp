// Access decisions; see access_policy.hpp.
#include "daemon/access_policy.hpp"

#include <algorithm>

namespace baton {
namespace {

bool is_connection_family(std::string_view family) {
  // SUBSCRIBE is checked per channel, against the family of what it watches.
  for (auto f : {"ping", "echo", "hello", "quit", "info", "client", "command", "subscribe"})
    if (family == f) return true;
  return false;
}

bool names_caller(const access_rule& rule, const peer_credentials& peer) {
  return std::find(rule.uids.begin(), rule.uids.end(), peer.uid) != rule.uids.end() ||
         std::any_of(rule.gids.begin(), rule.gids.end(), [&](gid_t g) { return peer.in_group(g); });
}

bool grants_family(const access_rule& rule, std::string_view family) {
  return std::any_of(rule.families.begin(), rule.families.end(),
                     [&](const std::string& f) { return f == "*" || f == family; });
}

bool grants_name(const access_rule& rule, std::string_view name) {
  return std::any_of(rule.names.begin(), rule.names.end(),
                     [&](const std::string& p) { return protocol::name_matches(p, name); });
}

} // namespace

bool access_policy::is_admin(const peer_credentials& peer) const {
  if (peer.uid == 0) return true;
  return std::any_of(rules_.admin_gids.begin(), rules_.admin_gids.end(),
                     [&](gid_t g) { return peer.in_group(g); });
}

bool access_policy::allows(const peer_credentials& peer, std::string_view family,
                           protocol::naming kind,
                           const std::vector<std::string_view>& names) const {
  if (is_connection_family(family) || is_admin(peer)) return true;
  // Groups unknown (SO_PEERGROUPS failed) or no credentials at all: fail closed, whatever the
  // default, since a rule for a group the caller is in might deny what the default allows.
  if (!peer.groups_known || peer.uid == static_cast<uid_t>(-1)) return false;
  bool named = false;
  std::vector<const access_rule*> granting;
  for (const auto& rule : rules_.rules) {
    if (!names_caller(rule, peer)) continue;
    named = true;
    if (grants_family(rule, family)) granting.push_back(&rule);
  }
  if (!named) return rules_.default_allow;
  if (std::any_of(granting.begin(), granting.end(),
                  [](const access_rule* r) { return r->names.empty(); }))
    return true;
  if (granting.empty() || kind == protocol::naming::nothing) return false;
  if (kind == protocol::naming::owned) return true;
  // Every name the request touches must be granted by some rule.
  return std::all_of(names.begin(), names.end(), [&](std::string_view name) {
    return std::any_of(granting.begin(), granting.end(),
                       [&](const access_rule* r) { return grants_name(*r, name); });
  });
}

} // namespace baton
