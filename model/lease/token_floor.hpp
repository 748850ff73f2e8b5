// The least fencing token a new grant may carry. lua/lease_acquire.lua grants above the name's
// stored fence and above Redis' clock, which covers a Redis that restarts empty with its clock
// right. It does not cover a Redis that lost its data (a restart without persistence, a
// failover to a replica that missed the last writes) and whose clock is behind: the next grant
// would go below tokens that holders already showed to their storage. So every acquisition also
// carries a floor from the daemon: the highest token it has ever seen (kept across its restarts
// in the state directory, services/lease/token_floor_file) and its own clock. Hosts keep their
// clocks close (NTP), so a grant by any daemon lands above every token granted earlier by Redis'
// clock as it then was.
#pragma once

#include <algorithm>
#include <chrono>
#include <cstdint>

namespace baton::lease {

/// Lua numbers are doubles: integers are exact up to 2^53 (a clock in microseconds reaches it
/// in the year 2255). A floor past it would round, and tokens could repeat; such a floor (a
/// clock set wildly ahead, a corrupt file) is not used.
constexpr std::int64_t max_exact_token = std::int64_t(1) << 53;

/// The wall clock in microseconds since the epoch, the unit of lease_acquire's TIME floor.
inline std::int64_t clock_floor(std::chrono::system_clock::time_point now) {
  auto us = std::chrono::duration_cast<std::chrono::microseconds>(now.time_since_epoch()).count();
  return us > 0 && us < max_exact_token ? us : 0;
}

/// ARGV[7] of lease_acquire: above everything this daemon has seen and its clock.
inline std::int64_t grant_floor(std::int64_t highest_seen,
                                std::chrono::system_clock::time_point now) {
  auto seen = highest_seen > 0 && highest_seen < max_exact_token ? highest_seen : 0;
  return std::max(seen, clock_floor(now));
}

} // namespace baton::lease
