// The adoption of a dead node's sessions, as an actor with named steps. Every daemon hears
// that a node's heartbeats stopped; exactly one adopts its sessions, the one that gets the
// lease `session-adopt/<node>` (the others find it held and end):
//
//   taking_lease -> choosing_targets (the active nodes, by the configured strategy)
//   -> reading_index (the dead node's sessions) -> reading_sessions (one batch: which are still
//   the dead node's) -> moving (one batch of lua/session_move, fenced by the owner epoch and
//   with no new nonce: the client never heard of a handoff, its last token still resumes it)
//   -> unindexing (the dead node's index forgets them) -> done (the lease is given back)
#pragma once

#include <caf/actor.hpp>
#include <caf/actor_system.hpp>

#include <chrono>
#include <cstddef>
#include <functional>
#include <string>

#include "actors/redis_link/redis_link_actor.hpp"

namespace baton::session {

enum class adoption_step {
  taking_lease,
  choosing_targets,
  reading_index,
  reading_sessions,
  moving,
  unindexing,
  done,
};
const char* to_string(adoption_step step);

struct adoption_outcome {
  bool adopter = false;    ///< this daemon got the lease
  std::size_t adopted = 0; ///< sessions moved to live nodes
  std::size_t found = 0;   ///< sessions the dead node's index named
};

struct adoption_deps {
  redis_link::redis_link_actor link;
  std::string prefix = "baton";
  std::string node_id = "node";
  std::string run_id = "run";
  bool round_robin = false;
  bool sharded_watch = false; ///< a Cluster (lease::task_lease)
  std::chrono::milliseconds membership_ttl{5000};
  std::chrono::milliseconds lease_ttl{30000}; ///< the adoption must end within it
  std::function<void(adoption_step)> on_step;  ///< logs, tests
};

/// Adopts the sessions of `dead_node`; `done` runs once on the actor's thread.
caf::actor spawn_adoption(caf::actor_system& system, adoption_deps deps, std::string dead_node,
                          std::function<void(adoption_outcome)> done);

} // namespace baton::session
