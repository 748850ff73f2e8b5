// What LEASE WATCH and ELECT WATCH report: a lease changing hands. Events come from three
// places: grants announced by lua/lease_acquire.lua on the name's watch channel, releases
// announced on the daemons' common channel, and this daemon's own verdicts (lost: a lease
// it held for a client whose safe validity ended; expired: a holder whose time ran out
// without a release, seen when the watcher checks at the expected end).
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

#include "model/caller.hpp"

namespace baton::lease {

struct lease_event {
  enum class kind { acquired, released, expired, lost };
  kind what = kind::acquired;
  std::string name;
  std::int64_t token = 0;
  std::string node; ///< the holder's node, when known
  std::string meta; ///< the holder's META (ELECT: the candidate), when known
  /// The holder's uid, when known: watchers of another uid hear of the lease, not of its node.
  std::int64_t uid = caller::unknown_uid;
  std::chrono::milliseconds ttl{0};
  std::uint64_t connection = 0; ///< lost: the client connection that held it on this node
};

inline const char* to_string(lease_event::kind k) {
  switch (k) {
  case lease_event::kind::acquired:
    return "acquired";
  case lease_event::kind::released:
    return "released";
  case lease_event::kind::expired:
    return "expired";
  case lease_event::kind::lost:
    return "lost";
  }
  return "unknown";
}

} // namespace baton::lease
