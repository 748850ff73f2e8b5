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
#include <cstdint>
#include <functional>
#include <optional>
#include <unordered_map>

namespace baton::actors {

/// The continuations of questions in flight, by id. Touched only on the reactor thread (asks
/// start there and their answers are posted there), so that a continuation, which may hold
/// reactor-side state such as a client's connection, never lives on an actor's thread.
template <class Result>
std::unordered_map<std::uint64_t, std::function<void(std::optional<Result>)>>& reactor_waiters() {
  static std::unordered_map<std::uint64_t, std::function<void(std::optional<Result>)>> waiters;
  return waiters;
}

template <class Result, class Handle, class... Ts>
void ask_from_reactor(caf::actor_system& system, boost::asio::io_context& io, Handle dest,
                      std::chrono::milliseconds timeout,
                      std::function<void(std::optional<Result>)> done, Ts... message) {
  static std::uint64_t next_id = 0;
  auto id = ++next_id;
  reactor_waiters<Result>().emplace(id, std::move(done));
  auto answer = [&io, id](std::optional<Result> r) {
    boost::asio::post(io, [id, r] {
      auto& waiters = reactor_waiters<Result>();
      auto it = waiters.find(id);
      if (it == waiters.end()) return;
      auto f = std::move(it->second);
      waiters.erase(it);
      f(r);
    });
  };
  system.spawn([=](caf::event_based_actor* self) {
    self->request(dest, timeout, message...)
        .then(
            [self, answer](Result& r) {
              answer(r);
              self->quit();
            },
            [self, answer](caf::error&) {
              answer(std::nullopt);
              self->quit();
            });
  });
}

} // namespace baton::actors
