// Keyless calls to every primary (the health sampler's INFO on each node of a Cluster); part
// of redis_pool (see redis_pool.hpp).
#include <memory>
#include <string>

#include "redis/redis_pool.hpp"

namespace baton::redis_link {
namespace {

/// How a primary is named to people and in metric labels: host:port (a Cluster's nodes are
/// always TCP), or the one server's description (a Unix socket's path).
std::string address_of(const redis_endpoint& e) {
  if (e.transport == transport_kind::unix_socket) return e.describe();
  return e.host + ":" + std::to_string(e.port);
}

} // namespace

void redis_pool::call_each_primary(std::vector<std::string> args,
                                   std::function<void(std::vector<redis_reply>)> done) {
  std::vector<node_pool*> pools;
  if (single_)
    pools.push_back(single_);
  else
    pools = primary_pools_; // address order, kept with the map
  if (pools.empty()) return done({});
  struct gathering {
    std::vector<redis_reply> replies;
    std::size_t left = 0;
    std::function<void(std::vector<redis_reply>)> done;
  };
  auto g = std::make_shared<gathering>();
  g->replies.resize(pools.size());
  g->left = pools.size();
  g->done = std::move(done);
  for (std::size_t i = 0; i < pools.size(); ++i) {
    // Each node answers within its own budget, so the slowest bounds the whole.
    pools[i]->call(args, [g, i, address = address_of(pools[i]->endpoint())](redis_reply r) {
      auto& pair = g->replies[i];
      pair.kind = reply_kind::array;
      pair.elements.resize(2);
      pair.elements[0].kind = reply_kind::string;
      pair.elements[0].str = address;
      pair.elements[1] = std::move(r);
      if (--g->left == 0) g->done(std::move(g->replies));
    });
  }
}

} // namespace baton::redis_link
