// The Redis link actor; see redis_link_actor.hpp.
#include "actors/redis_link/redis_link_actor.hpp"

#include <boost/asio/post.hpp>
#include <caf/all.hpp>

#include <unordered_map>

#include "protocol/atoms.hpp"

namespace baton::redis_link {
namespace {

struct link_actor_state {
  std::uint64_t next_id = 0;
  std::unordered_map<std::uint64_t, caf::response_promise> promises;
  static inline const char* name = "redis_link";
};

caf::behavior link_actor(caf::stateful_actor<link_actor_state>* self, redis_pool* pool,
                         boost::asio::io_context* io) {
  // Registers a promise and returns the function that the I/O thread calls with the reply.
  auto track = [self] {
    auto id = ++self->state.next_id;
    self->state.promises.emplace(id, self->make_response_promise());
    auto weak = caf::actor_cast<caf::actor_addr>(self);
    return std::make_pair(id, [weak, id](redis_reply reply) {
      if (auto strong = caf::actor_cast<caf::actor>(weak))
        caf::anon_send(strong, atoms::redis_done::value, id, std::move(reply));
    });
  };
  return {
      [=](atoms::redis_call, std::vector<std::string> args) {
        auto reply_to = track().second;
        boost::asio::post(*io,
                          [pool, args = std::move(args), reply_to] { pool->call(args, reply_to); });
        return caf::delegated<redis_reply>{};
      },
      [=](atoms::redis_script, std::string name, std::vector<std::string> keys,
          std::vector<std::string> args) {
        auto reply_to = track().second;
        boost::asio::post(*io, [pool, name = std::move(name), keys = std::move(keys),
                                args = std::move(args),
                                reply_to] { pool->run_script(name, keys, args, reply_to); });
        return caf::delegated<redis_reply>{};
      },
      [=](atoms::redis_done, std::uint64_t id, redis_reply& reply) {
        auto it = self->state.promises.find(id);
        if (it == self->state.promises.end()) return;
        it->second.deliver(std::move(reply));
        self->state.promises.erase(it);
      },
  };
}

} // namespace

caf::actor spawn_redis_link_actor(caf::actor_system& system, redis_pool& pool,
                                  boost::asio::io_context& io) {
  return system.spawn(link_actor, &pool, &io);
}

} // namespace baton::redis_link
