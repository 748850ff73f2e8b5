// Who holds a lease, as lua/lease_acquire.lua (on a refusal) and lua/lease_info.lua report
// it: the detail a DENIED failure carries as its context, and what LEASE INFO answers. Shared
// by the client leases (services/lease) and the daemon's own task leases (task_lease.hpp).
#pragma once

#include <cstdint>
#include <string>

namespace baton::lease {

struct lease_holder {
  std::string state; ///< "held" or "lock-delay"
  std::string owner, node, client, meta;
  std::int64_t token = 0;
  std::int64_t remaining_ms = 0;
};

} // namespace baton::lease
