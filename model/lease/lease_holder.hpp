// Who holds a lease, as lua/lease_acquire.lua (on a refusal) and lua/lease_info.lua report
// it: the detail a DENIED failure carries as its context, and what LEASE INFO answers. Shared
// by the client leases (services/lease) and the daemon's own task leases (task_lease.hpp).
#pragma once

#include <cstdint>
#include <string>

#include "model/caller.hpp"

namespace baton::lease {

struct lease_holder {
  std::string state; ///< "held" or "lock-delay"
  std::string owner, node, client, meta;
  std::int64_t token = 0;
  std::int64_t remaining_ms = 0;
  std::int64_t uid = caller::unknown_uid; ///< the holder's uid, from `client`

  /// What a caller that is neither the holder's uid nor an admin may see: the state, the
  /// token and the time left, not who holds it (uid, pid, node) or its meta.
  lease_holder as_seen_by(const caller& viewer) const {
    if (viewer.may_see(uid)) return *this;
    lease_holder seen;
    seen.state = state;
    seen.token = token;
    seen.remaining_ms = remaining_ms;
    seen.uid = uid;
    return seen;
  }
};

} // namespace baton::lease
