// The Redis link as an actor: other actors send it commands and scripts and get replies as
// response messages. The actor owns the promises; the pool it fronts runs on the I/O thread,
// so every call hops there by asio::post and its reply hops back by a message, keeping CAF's
// promises on the actor's own thread.
#pragma once

#include <boost/asio/io_context.hpp>
#include <caf/actor.hpp>
#include <caf/actor_system.hpp>
#include <caf/allowed_unsafe_message_type.hpp>

#include "redis/redis_pool.hpp"

// Replies cross only local mailboxes (never the network), so CAF need not serialize them.
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(baton::redis_link::redis_reply)

namespace baton::redis_link {

/// Messages it understands:
///   (atoms::redis_call, std::vector<std::string> args)                       -> redis_reply
///   (atoms::redis_script, std::string name, std::vector<std::string> keys,
///    std::vector<std::string> args)                                          -> redis_reply
/// A reply of kind `unavailable` is an answer, not a CAF error: callers degrade on it.
///
/// Spawns the link actor. `pool` and `io` must outlive it.
caf::actor spawn_redis_link_actor(caf::actor_system& system, redis_pool& pool,
                                  boost::asio::io_context& io);

} // namespace baton::redis_link
