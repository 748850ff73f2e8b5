// The Redis link actor; see redis_link_actor.hpp.
#include "actors/redis_link/redis_link_actor.hpp"

#include <boost/asio/post.hpp>
#include <caf/all.hpp>

#include <memory>
#include <unordered_map>
#include <variant>

namespace baton::redis_link {
namespace {

using one_promise = caf::typed_response_promise<redis_reply>;
using batch_promise = caf::typed_response_promise<std::vector<redis_reply>>;

struct link_state {
  std::uint64_t next_id = 0;
  std::unordered_map<std::uint64_t, std::variant<one_promise, batch_promise>> promises;
  static inline const char* name = "redis_link";
};

using link_pointer = redis_link_actor::stateful_pointer<link_state>;

// The function the I/O thread calls with the replies of request `id`: a message back to the
// actor (anon_send is safe from any thread), never a promise touched off the actor's thread.
auto reply_to(link_pointer self, std::uint64_t id) {
  auto weak = caf::actor_cast<caf::actor_addr>(self);
  return [weak, id](std::vector<redis_reply> replies) {
    if (auto strong = caf::actor_cast<redis_link_actor>(weak))
      caf::anon_send(strong, atoms::redis_done::value, id, std::move(replies));
  };
}

// Runs a batch on the I/O thread: every call leaves at once (the pool pipelines them) and the
// replies go back together once the last has come.
void run_batch(redis_pool& pool, std::vector<script_call> calls,
               std::function<void(std::vector<redis_reply>)> done) {
  struct gathering {
    std::vector<redis_reply> replies;
    std::size_t left = 0;
    std::function<void(std::vector<redis_reply>)> done;
  };
  auto g = std::make_shared<gathering>();
  g->replies.resize(calls.size());
  g->left = calls.size();
  g->done = std::move(done);
  if (calls.empty()) return g->done({});
  for (std::size_t i = 0; i < calls.size(); ++i) {
    auto& c = calls[i];
    std::optional<milliseconds> budget;
    if (c.budget_ms > 0) budget = c.budget();
    pool.run_script(
        c.name, c.keys, c.args,
        [g, i](redis_reply r) {
          g->replies[i] = std::move(r);
          if (--g->left == 0) g->done(std::move(g->replies));
        },
        budget);
  }
}

redis_link_actor::behavior_type link_actor(link_pointer self, redis_pool* pool,
                                           boost::asio::io_context* io) {
  return {
      [=](atoms::redis_call, std::vector<std::string>& args) -> caf::result<redis_reply> {
        auto id = ++self->state.next_id;
        auto promise = self->make_response_promise<redis_reply>();
        self->state.promises.emplace(id, promise);
        boost::asio::post(*io, [pool, args = std::move(args), done = reply_to(self, id)] {
          pool->call(args, [done](redis_reply r) { done({std::move(r)}); });
        });
        return promise;
      },
      [=](atoms::redis_script, script_call& call) -> caf::result<redis_reply> {
        auto id = ++self->state.next_id;
        auto promise = self->make_response_promise<redis_reply>();
        self->state.promises.emplace(id, promise);
        boost::asio::post(*io, [pool, call = std::move(call), done = reply_to(self, id)] {
          run_batch(*pool, {call}, done);
        });
        return promise;
      },
      [=](atoms::redis_batch,
          std::vector<script_call>& calls) -> caf::result<std::vector<redis_reply>> {
        auto id = ++self->state.next_id;
        auto promise = self->make_response_promise<std::vector<redis_reply>>();
        self->state.promises.emplace(id, promise);
        boost::asio::post(*io, [pool, calls = std::move(calls), done = reply_to(self, id)] {
          run_batch(*pool, std::move(calls), done);
        });
        return promise;
      },
      [=](atoms::redis_each,
          std::vector<std::string>& args) -> caf::result<std::vector<redis_reply>> {
        auto id = ++self->state.next_id;
        auto promise = self->make_response_promise<std::vector<redis_reply>>();
        self->state.promises.emplace(id, promise);
        boost::asio::post(*io, [pool, args = std::move(args), done = reply_to(self, id)] {
          pool->call_each_primary(args, done);
        });
        return promise;
      },
      [=](atoms::redis_done, std::uint64_t id, std::vector<redis_reply>& replies) {
        auto it = self->state.promises.find(id);
        if (it == self->state.promises.end()) return;
        if (auto* one = std::get_if<one_promise>(&it->second))
          one->deliver(replies.empty() ? redis_reply::unavailable("no reply") : replies.front());
        else
          std::get<batch_promise>(it->second).deliver(std::move(replies));
        self->state.promises.erase(it);
      },
  };
}

} // namespace

redis_link_actor spawn_redis_link_actor(caf::actor_system& system, redis_pool& pool,
                                        boost::asio::io_context& io) {
  return system.spawn(link_actor, &pool, &io);
}

} // namespace baton::redis_link
