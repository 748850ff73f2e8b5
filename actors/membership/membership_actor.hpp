// This daemon's heartbeat in the fleet, as an actor: every `heartbeat` it writes its record
// (address, version, state, session count, start time) with a TTL through lua/node_heartbeat,
// which also sweeps out the daemons whose heartbeats stopped (announcing their leave). It
// marks the node draining (and beats at once, so the fleet hears it) and leaves at stop.
// Events and NODE LIST stay with the membership service on the reactor (services/membership).
#pragma once

#include <caf/actor_system.hpp>
#include <caf/replies_to.hpp>
#include <caf/typed_actor.hpp>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include "actors/redis_link/redis_link_actor.hpp"
#include "model/membership/node_list.hpp"
#include "protocol/atoms.hpp"

namespace baton::membership {

struct heartbeat_settings {
  std::string prefix = "baton";
  std::string node_id = "node";
  std::string run_id = "run";
  std::string address; ///< how apps and load balancers reach this host
  std::string version; ///< batond's version
  std::chrono::milliseconds heartbeat{1000};
  std::chrono::milliseconds ttl{5000};
  std::int64_t started_ms = 0; ///< wall clock at start, for NODE LIST (not for decisions)
  /// The number of sessions this node owns, published by the session service (the reactor
  /// writes it, the heartbeat reads it); null: 0.
  std::shared_ptr<const std::atomic<std::int64_t>> sessions;
};

/// The heartbeat's protocol:
///   (drain) -> bool     mark this node draining and beat at once: true once Redis has it
///   (leave) -> bool     stop beating and remove the record at once: true if Redis answered
///   (timer_tick, gen)   internal: the next beat is due
using membership_actor =
    caf::typed_actor<caf::replies_to<atoms::drain>::with<bool>,
                     caf::replies_to<atoms::leave>::with<bool>,
                     caf::reacts_to<atoms::timer_tick, std::uint64_t>>;

/// Starts beating at once.
membership_actor spawn_membership(caf::actor_system& system, redis_link::redis_link_actor link,
                                  heartbeat_settings settings);

} // namespace baton::membership
