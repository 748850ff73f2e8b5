// Decides which command families a caller may use, and for which names, from the config's
// access rules and the caller's kernel-verified credentials. Connection commands (PING,
// HELLO, INFO, ...) are open to everyone who can open the socket; the socket's file mode is
// the first gate. What a caller may do to what another uid holds is the families' own rule
// (model/caller.hpp); these rules say what it may ask at all.
#pragma once

#include <string_view>
#include <vector>

#include "daemon/config.hpp"
#include "daemon/peer_credentials.hpp"
#include "model/caller.hpp"
#include "protocol/command_names.hpp"

namespace baton {

class access_policy {
public:
  explicit access_policy(access_config rules = {}) : rules_(std::move(rules)) {}

  /// May `peer` use `family` on `names` (what the request names, per `kind`)? A rule that
  /// lists names grants its families only for matching names, and not the commands that name
  /// nothing (LIST): those need a rule without names. Admins may do everything.
  bool allows(const peer_credentials& peer, std::string_view family,
              protocol::naming kind = protocol::naming::nothing,
              const std::vector<std::string_view>& names = {}) const;
  bool is_admin(const peer_credentials& peer) const;
  /// The peer as the families judge ownership (model/caller.hpp).
  caller caller_for(const peer_credentials& peer) const {
    return {static_cast<std::int64_t>(peer.uid), is_admin(peer)};
  }

private:
  access_config rules_;
};

} // namespace baton
