// The lease keeper: renews the KEEP leases this daemon's clients hold, for as long as they
// hold them, and tells the lease service a lease is lost *before* its safe validity ends, so
// that the holder hears `lost` while it may still act on it. It lives across time (a renewal
// every ttl/3, a verdict at a deadline), so it is an actor; the request path (ACQUIRE, RENEW,
// RELEASE in services/lease) stays on the reactor and only tells it what to keep.
//
// Renewals that fall due close together (within ttl/6) leave as one batch: one message to the
// link actor, one pipelined burst to Redis, one message back. Each renewal's budget is the
// time its lease has left, not the usual call budget.
#pragma once

#include <caf/actor_system.hpp>
#include <caf/allowed_unsafe_message_type.hpp>
#include <caf/replies_to.hpp>
#include <caf/typed_actor.hpp>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "actors/redis_link/redis_link_actor.hpp"
#include "model/lease/drift.hpp"
#include "protocol/atoms.hpp"

namespace baton::lease {

/// A KEEP lease to keep, as granted (or renewed by its holder). `sent` is when the grant's
/// request left, on the steady clock the actors use (`caf::actor_clock`), in nanoseconds.
struct kept_lease {
  std::string name;
  std::string owner;
  std::int64_t token = 0;
  std::int64_t ttl_ms = 0;
  std::int64_t sent_ns = 0;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, kept_lease& x) {
  return f(x.name, x.owner, x.token, x.ttl_ms, x.sent_ns);
}

/// What the keeper tells the lease service (through `keeper_settings::tell`).
struct keeper_news {
  enum class kind {
    renewed, ///< `safe_end` is the lease's new safe end
    lost,    ///< not renewed in time, or Redis said it is someone else's: `reason`
    stopped, ///< after stop_all: no renewal is on its way any more
  };
  kind what = kind::renewed;
  std::string name;
  std::int64_t token = 0;
  caf::actor_clock::time_point safe_end{};
  std::string reason;
};

struct keeper_settings {
  std::string prefix = "baton";
  std::chrono::milliseconds drift_margin{10}; ///< the floor of the margin (model/lease/drift.hpp)
  double drift_fraction = 0;                  ///< the margin's share of the TTL
  /// Runs on the keeper's thread with what one message (a batch's replies, a tick) brought,
  /// in order; the daemon posts it onto the reactor in one hop, not one per lease.
  std::function<void(std::vector<keeper_news>)> tell;
};

/// The keeper's protocol:
///   (keep, kept_lease)         start keeping it (or restart its clock after a RENEW)
///   (forget, name, token)      stop: released, or its holder went away
///   (abandon, name, token)     stop: lost by the service's own clock; give it back, since a
///                              renewal on its way may still land
///   (stop_all)                 the daemon stops: renew nothing more, then tell `stopped`
///   (check_all)                the Redis master moved: renew every lease now
///   (timer_tick, generation)   internal: the next renewal or verdict is due
using lease_keeper_actor =
    caf::typed_actor<caf::reacts_to<atoms::keep, kept_lease>,
                     caf::reacts_to<atoms::forget, std::string, std::int64_t>,
                     caf::reacts_to<atoms::abandon, std::string, std::int64_t>,
                     caf::reacts_to<atoms::stop_all>, caf::reacts_to<atoms::check_all>,
                     caf::reacts_to<atoms::timer_tick, std::uint64_t>>;

/// How long before a KEEP lease's safe end its holder is told `lost`: a tenth of the TTL, at
/// most 1 s (and the notice a clean stop leaves it).
inline std::chrono::milliseconds keep_notice(std::chrono::milliseconds ttl) {
  return std::clamp(ttl / 10, std::chrono::milliseconds(1), std::chrono::milliseconds(1000));
}

/// When a KEEP lease whose grant was sent at `sent` stops being safe: the TTL less the drift
/// margin and the notice its holder needs to hear `lost` in time.
caf::actor_clock::time_point keep_safe_end(caf::actor_clock::time_point sent,
                                           std::chrono::milliseconds ttl,
                                           std::chrono::milliseconds drift_margin);
/// The same, with the margin for this TTL.
inline caf::actor_clock::time_point keep_safe_end(caf::actor_clock::time_point sent,
                                                  std::chrono::milliseconds ttl,
                                                  const keeper_settings& s) {
  return keep_safe_end(sent, ttl, lease::drift_margin_for(ttl, s.drift_margin, s.drift_fraction));
}

lease_keeper_actor spawn_lease_keeper(caf::actor_system& system, redis_link::redis_link_actor link,
                                      keeper_settings settings);

} // namespace baton::lease
