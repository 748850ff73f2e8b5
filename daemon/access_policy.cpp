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

} // namespace

bool access_policy::is_admin(const peer_credentials& peer) const {
  if (peer.uid == 0) return true;
  return std::any_of(rules_.admin_gids.begin(), rules_.admin_gids.end(),
                     [&](gid_t g) { return peer.in_group(g); });
}

bool access_policy::allows(const peer_credentials& peer, std::string_view family) const {
  if (is_connection_family(family) || is_admin(peer)) return true;
  bool named = false;
  for (const auto& rule : rules_.rules) {
    bool matches =
        std::find(rule.uids.begin(), rule.uids.end(), peer.uid) != rule.uids.end() ||
        std::any_of(rule.gids.begin(), rule.gids.end(), [&](gid_t g) { return peer.in_group(g); });
    if (!matches) continue;
    named = true;
    for (const auto& f : rule.families)
      if (f == "*" || f == family) return true;
  }
  return named ? false : rules_.default_allow;
}

} // namespace baton
