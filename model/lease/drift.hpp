// How much of a lease's TTL its holder must not count on. Redis expires the lease by its own
// clock, and this host measures validity by its own: over a TTL of t the two may drift apart
// by a fraction of t (Redlock's analysis takes 1%), plus a constant for the timer's own
// slack. A fixed margin that suits a 1 s lease is too thin for a 1 h one.
#pragma once

#include <algorithm>
#include <chrono>
#include <cstdint>

namespace baton::lease {

/// max(floor, ttl * fraction): `runtime.drift_margin_ms` and `runtime.drift_fraction`.
inline std::chrono::milliseconds
drift_margin_for(std::chrono::milliseconds ttl, std::chrono::milliseconds floor, double fraction) {
  auto proportional = std::chrono::milliseconds(
      static_cast<std::int64_t>(static_cast<double>(ttl.count()) * fraction));
  return std::max(floor, proportional);
}

} // namespace baton::lease
