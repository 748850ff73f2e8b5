// A scripted Redis link for unit tests of actors: an actor of the link's own type that records
// every call and answers with what the test's function returns, or not at all (a stalled
// Redis) until the test answers it by hand. It decides nothing about Redis' semantics: the
// scripts themselves are tested on real Redis (tests/lua), and behaviour end to end on real
// daemons (tests/integration, chaos/).
#pragma once

#include <caf/actor_addr.hpp>

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "actors/redis_link/redis_link_actor.hpp"

namespace baton::test {

/// What the fake link saw and how it answers; shared between the test and the actor (both run
/// on the test's thread under virtual time).
struct fake_link_script {
  /// Every call, in arrival order. A raw command arrives as a call named "CMD <verb>".
  std::vector<redis_link::script_call> calls;
  /// The first call's name of every batch (redis_batch), in arrival order.
  std::vector<std::string> batches;
  /// The answer to a call; nullopt leaves it waiting (see held, answer_held).
  std::function<std::optional<redis_link::redis_reply>(const redis_link::script_call&)> answer;

  /// Calls (or batches) left waiting, oldest first.
  std::vector<std::uint64_t> held;
  /// Answers the oldest waiting call (every call of a batch with this one reply), from within
  /// the fake's own actor as the real link does; takes effect at the next run().
  void answer_held(redis_link::redis_reply reply);

  caf::actor_addr link; ///< the fake (weak: the script must not keep it alive)
  /// Calls named `name` so far.
  std::size_t count(const std::string& name) const {
    std::size_t n = 0;
    for (const auto& c : calls)
      n += c.name == name;
    return n;
  }
  /// Batches whose first call is named `name` so far.
  std::size_t batches_of(const std::string& name) const {
    std::size_t n = 0;
    for (const auto& b : batches)
      n += b == name;
    return n;
  }
};

redis_link::redis_link_actor spawn_fake_link(caf::actor_system& system,
                                             std::shared_ptr<fake_link_script> script);

// -- reply builders --------------------------------------------------------------------
redis_link::redis_reply integer_reply(std::int64_t n);
redis_link::redis_reply string_reply(std::string s);
redis_link::redis_reply array_reply(std::vector<redis_link::redis_reply> elements);
/// {status, message}: the shape most scripts of lua/ answer with.
redis_link::redis_reply status_reply(std::int64_t status, std::string message);

} // namespace baton::test
