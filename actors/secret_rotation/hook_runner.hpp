// Hooks as actors: the rotation asks the hook runner to run a hook and gets its result as a
// response. Each hook runs in a detached actor of its own (a thread that may block on the
// process), so no scheduler thread ever waits on a provider's API. Tests replace the runner
// with a scripted actor of the same type.
#pragma once

#include <caf/actor_system.hpp>
#include <caf/allowed_unsafe_message_type.hpp>
#include <caf/replies_to.hpp>
#include <caf/typed_actor.hpp>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "actors/secret_rotation/hook_process.hpp"
#include "protocol/atoms.hpp"

namespace baton::secret {

struct hook_job {
  std::string command;
  std::shared_ptr<const secure_bytes> input; ///< stdin (shared: secure_bytes is move-only)
  std::vector<std::string> environment;      ///< "NAME=value", added to the clean environment
  std::int64_t timeout_ms = 10000;
};

using hook_reply = std::shared_ptr<hook_result>;

} // namespace baton::secret

// Local messages only (never serialized): they carry key material.
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(baton::secret::hook_job)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(baton::secret::hook_reply)

namespace baton::secret {

/// (hook, hook_job) -> hook_reply: runs the hook, answers when it has ended.
using hook_runner_actor = caf::typed_actor<caf::replies_to<atoms::hook, hook_job>::with<hook_reply>>;

hook_runner_actor spawn_hook_runner(caf::actor_system& system);

} // namespace baton::secret
