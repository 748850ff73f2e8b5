// One rotation (or PUT) of one secret, as an actor with named steps that runs on exactly one
// daemon at a time, under a lease:
//
//   taking_lease -> beginning (fence = lease token; find a half-done rotation)
//     -> [reading_pending: finish it | rolling_back: undo it, then beginning again]
//     -> obtaining_value (given, generate hook, or CSPRNG) -> staging (sealed, as `pending`)
//     -> testing (test hook) -> promoting (pending -> current -> previous, announced)
//     -> done: the lease is released and the outcome told
//
// Every Redis step is a script fenced by the lease's token, so a rotator that lost its lease
// cannot write after a newer one began. A daemon killed at any step leaves the served versions
// untouched (only promotion changes them, atomically); the next rotation finds the pending
// version and finishes it (generated values: the provider may already know the new key) or
// rolls it back (a rotation that brings its own value). The whole rotation must end within
// the lease's TTL: past it, it stops and fails (ERR), whatever step it is in.
#pragma once

#include <caf/actor.hpp>
#include <caf/actor_system.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <variant>

#include "actors/redis_link/redis_link_actor.hpp"
#include "actors/secret_rotation/hook_runner.hpp"
#include "model/secret/envelope.hpp"
#include "model/secret/secret_settings.hpp"
#include "protocol/result.hpp"

namespace baton::secret {

struct rotation_request {
  std::string name;
  std::optional<secure_bytes> value; ///< PUT or ROTATE VALUE; else generated
  bool hooks = true;                 ///< PUT skips the hooks
  milliseconds due{0};               ///< a schedule: only if current is at least this old
  milliseconds grace{0};
  std::optional<secret_item> item; ///< the config's entry, if any
  std::int64_t version_floor = 0;  ///< the highest version this daemon has seen
};

/// A rotation that promoted `version`.
struct rotated {
  std::int64_t version = 0;
  std::int64_t previous = 0;
  std::int64_t epoch = 0;
  bool finished_earlier = false; ///< it completed a half-done rotation's pending version
};
/// A scheduled rotation whose current version is not old enough yet: nothing was done.
struct rotation_not_due {};
using rotation_success = std::variant<rotated, rotation_not_due>;

/// A rotation's result. Its failures: busy (a rotation of the secret runs elsewhere; the
/// context is the rotation lease's lease_holder), unavailable (Redis did not answer), err
/// (a hook failed or refused, the rotation ran out of time, Redis refused a step).
using rotation_callback = std::function<void(protocol::result<rotation_success>)>;

/// The steps, in the order a fresh rotation takes them.
enum class rotation_step {
  taking_lease,
  beginning,
  reading_pending,
  rolling_back,
  obtaining_value,
  staging,
  testing,
  promoting,
  done,
};
const char* to_string(rotation_step step);

/// What a rotation needs from the daemon.
struct rotation_deps {
  redis_link::redis_link_actor link;
  hook_runner_actor hooks;
  std::shared_ptr<const keyring> keys; ///< read-only once loaded
  secrets_config settings;
  std::string prefix;
  std::string node_id;
  std::string run_id;
  bool sharded_watch = false; ///< a Cluster (lease::task_lease)
  /// Called with each step the rotation enters (logs, tests); on the rotation's thread.
  std::function<void(const std::string& secret, rotation_step)> on_step;
};

/// Starts one rotation; `done` runs once, on the rotation's thread (the daemon posts it onto
/// the reactor), unless the actor is killed first (the daemon stopping).
caf::actor spawn_rotation(caf::actor_system& system, std::shared_ptr<const rotation_deps> deps,
                          rotation_request request, rotation_callback done);

} // namespace baton::secret
