// The drain of this node's sessions before a deploy stops it, as an actor with named steps:
//
//   (the reactor: /readyz says 503, OPEN answers DRAINING, then it spawns the drain)
//   announcing (the heartbeat marks the node draining: the fleet hears it)
//   -> delaying (drain_delay: load balancers polling /readyz stop sending traffic)
//   -> choosing_targets (the sessions this node owns now, asked of the session service after
//      the delay, and the active nodes, by the configured strategy)
//   -> moving (every session at once, one pipelined batch of lua/session_move, each fenced by
//      its owner epoch and given a new resume nonce) and pushing (the reactor pushes
//      handoff-out with a fresh token to the apps connected here)
//   -> waiting (until each moved session was resumed on its new owner, or the deadline)
//   -> done (the report: moved, resumed, failed, stayed, resume times)
#pragma once

#include <caf/actor_system.hpp>
#include <caf/replies_to.hpp>
#include <caf/typed_actor.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "actors/membership/membership_actor.hpp"
#include "actors/redis_link/redis_link_actor.hpp"
#include "protocol/atoms.hpp"

namespace baton::session {

using std::chrono::milliseconds;

/// What a drain did.
struct handoff_report {
  bool announced = false; ///< the fleet heard this node is draining
  std::size_t owned = 0, moved = 0, resumed = 0, failed = 0;
  std::size_t stayed = 0;        ///< no active node to take them
  milliseconds took{0};          ///< from the first move to the end
  std::vector<double> resume_ms; ///< from the first move to each resume
};

enum class drain_step { announcing, delaying, choosing_targets, moving, waiting, done };
const char* to_string(drain_step step);

/// What the drain tells the session service (on the drain's thread; the daemon posts it).
struct drain_news {
  enum class kind {
    announced,     ///< `ok`: the fleet heard it (NODE DRAIN without WAIT answers now)
    need_sessions, ///< answer with (sessions, owned_sessions): what this node owns now
    moved,         ///< `id` now belongs to `target`: push handoff-out with `epoch` and `nonce`
    not_moved,     ///< `id` could not be moved; `moved_on`: it is not this node's any more
    finished,      ///< `report`
  };
  kind what = kind::finished;
  bool ok = false;
  std::string id, target, address, nonce;
  std::int64_t epoch = 0;
  std::int64_t uid = -1; ///< moved: the uid that opened it (-1: unknown), who may hear the token
  bool moved_on = false;
  handoff_report report;
};

/// The sessions a node owns: ids and their owner epochs, in the same order.
struct owned_sessions {
  std::vector<std::string> ids;
  std::vector<std::int64_t> epochs;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, owned_sessions& x) {
  return f(x.ids, x.epochs);
}

struct drain_settings {
  std::string prefix = "baton";
  std::string node_id = "node";
  milliseconds handoff_deadline{10000};
  milliseconds drain_delay{0};
  bool round_robin = false;
  milliseconds membership_ttl{5000}; ///< which nodes count as live
};

struct drain_deps {
  redis_link::redis_link_actor link;
  membership::membership_actor membership;
  drain_settings settings;
  std::function<void(drain_news)> tell;
  std::function<void(drain_step)> on_step; ///< logs, tests
};

/// The drain's protocol (besides its own timers): the session service answers need_sessions
/// and forwards what it hears of the sessions being drained.
///   (sessions, owned_sessions)   what this node owns now (after need_sessions)
///   (resumed, id)                resumed on another node
///   (closed, id)                 closed by its app
using drain_actor = caf::typed_actor<
    caf::reacts_to<atoms::sessions, owned_sessions>, caf::reacts_to<atoms::resumed, std::string>,
    caf::reacts_to<atoms::closed, std::string>, caf::reacts_to<atoms::timer_tick, std::uint64_t>>;

drain_actor spawn_drain(caf::actor_system& system, drain_deps deps);

} // namespace baton::session
