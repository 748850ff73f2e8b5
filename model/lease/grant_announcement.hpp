// What lua/lease_acquire.lua publishes on a name's watch channel when it grants the name, read
// by every daemon that follows the name for its LEASE WATCH and ELECT WATCH clients:
//   "acquired <token> <ttl_ms> <node> uid=<uid>|uid=- <meta>"
// The holder's uid lets a daemon tell a watcher of another uid that the lease changed hands
// without telling it where (model/caller.hpp). Daemons from before the uid was announced
// publish "acquired <token> <ttl_ms> <node> <meta>"; read as such, the holder's uid is unknown
// (shown to everyone, as it was then). The meta goes last: it may contain spaces.
#pragma once

#include <chrono>
#include <optional>
#include <string>

#include "model/lease/known_holder.hpp"

namespace baton::lease {

struct grant_announcement {
  known_holder holder;
  std::chrono::milliseconds ttl{0};
};

/// The announcement in `payload`, or nothing when it is not one (another message, garbage).
std::optional<grant_announcement> parse_grant_announcement(const std::string& payload);

} // namespace baton::lease
