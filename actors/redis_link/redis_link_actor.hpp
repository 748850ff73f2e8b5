// The Redis link as an actor: other actors send it commands and scripts and get replies as
// response messages. The actor owns the promises; the pool it fronts runs on the I/O thread,
// so every call hops there by asio::post and its reply hops back by a message, keeping CAF's
// promises on the actor's own thread.
#pragma once

#include <boost/asio/io_context.hpp>
#include <caf/actor.hpp>
#include <caf/actor_system.hpp>

#include "actors/redis_link/redis_pool.hpp"

namespace baton::redis_link {

/// Spawns the link actor. `pool` and `io` must outlive it.
caf::actor spawn_redis_link_actor(caf::actor_system& system, redis_pool& pool,
                                  boost::asio::io_context& io);

} // namespace baton::redis_link
