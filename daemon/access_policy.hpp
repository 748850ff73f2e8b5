// Decides which command families a caller may use, from the config's access rules and the
// caller's kernel-verified credentials. Connection commands (PING, HELLO, INFO, ...) are open
// to everyone who can open the socket; the socket's file mode is the first gate.
#pragma once

#include <string_view>

#include "daemon/config.hpp"
#include "daemon/peer_credentials.hpp"

namespace baton {

class access_policy {
public:
  explicit access_policy(access_config rules = {}) : rules_(std::move(rules)) {}

  bool allows(const peer_credentials& peer, std::string_view family) const;
  bool is_admin(const peer_credentials& peer) const;

private:
  access_config rules_;
};

} // namespace baton
