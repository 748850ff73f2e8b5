// How the reactor asks an actor a question and hears the answer: the reactor is not an actor,
// so a short-lived actor makes the request for it and posts the answer (or nullopt: no answer
// in time, or the actor is gone) back onto the reactor. For rare calls (a drain, a leave), not
// for the request path: each costs a spawn and two hops.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <caf/actor_system.hpp>
#include <caf/event_based_actor.hpp>

#include <chrono>
#include <functional>
#include <optional>

namespace baton::actors {

template <class Result, class Handle, class... Ts>
void ask_from_reactor(caf::actor_system& system, boost::asio::io_context& io, Handle dest,
                      std::chrono::milliseconds timeout,
                      std::function<void(std::optional<Result>)> done, Ts... message) {
  system.spawn([=, &io](caf::event_based_actor* self) {
    self->request(dest, timeout, message...)
        .then(
            [=, &io](Result& r) {
              boost::asio::post(io, [done, r] { done(r); });
              self->quit();
            },
            [=, &io](caf::error&) {
              boost::asio::post(io, [done] { done(std::nullopt); });
              self->quit();
            });
  });
}

} // namespace baton::actors
