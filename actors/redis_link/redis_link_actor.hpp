// The Redis link as an actor: how actors reach Redis. Actors send it commands, script calls
// and batches of script calls, and get replies as response messages. The pool it fronts runs
// on the I/O thread, so every call hops there by asio::post and its reply hops back by a
// message, keeping CAF's promises on the actor's own thread. Tests replace it with a scripted
// actor of the same type (tests/support/fake_link.hpp) and run on CAF's virtual clock.
#pragma once

#include <boost/asio/io_context.hpp>
#include <caf/actor_system.hpp>
#include <caf/allowed_unsafe_message_type.hpp>
#include <caf/replies_to.hpp>
#include <caf/typed_actor.hpp>

#include <cstdint>
#include <string>
#include <vector>

#include "protocol/atoms.hpp"
#include "redis/redis_pool.hpp"
#include "redis/script_call.hpp"

// Replies cross only local mailboxes (never the network), so CAF need not serialize them.
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(baton::redis_link::redis_reply)

namespace baton::redis_link {

/// The link's protocol. A reply of kind `unavailable` is an answer, not a CAF error: callers
/// degrade on it. A batch's replies come in the order of its calls, all at once.
using redis_link_actor = caf::typed_actor<
    caf::replies_to<atoms::redis_call, std::vector<std::string>>::with<redis_reply>,
    caf::replies_to<atoms::redis_script, script_call>::with<redis_reply>,
    caf::replies_to<atoms::redis_batch, std::vector<script_call>>::with<std::vector<redis_reply>>,
    caf::replies_to<atoms::redis_each, std::vector<std::string>>::with<std::vector<redis_reply>>,
    caf::reacts_to<atoms::redis_done, std::uint64_t, std::vector<redis_reply>>>;

/// Spawns the link actor. `pool` and `io` must outlive it.
redis_link_actor spawn_redis_link_actor(caf::actor_system& system, redis_pool& pool,
                                        boost::asio::io_context& io);

} // namespace baton::redis_link
