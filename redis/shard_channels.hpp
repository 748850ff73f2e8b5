// Channels that belong to a slot: on a Redis Cluster, sharded pub/sub (Redis 7's SSUBSCRIBE
// and SPUBLISH) on the primary that serves the channel's slot; elsewhere, the classic
// subscriber. A script can publish atomically with its write only on its own node (Redis
// refuses a script's SPUBLISH to another shard's channel), so a channel is sharded when it
// carries the hash tag of the keys its publishers write: a lease's watch channel
// "<prefix>:lease-watch:{<name>}" lives with the lease. Such a message crosses no cluster
// bus, where a classic PUBLISH is sent to every node.
//
// One subscriber (sharded mode) per node that serves a followed channel. A channel follows
// its slot: when the slot map changes, and when its node refuses it or drops it (the slot
// moved away: Redis sends `sunsubscribe`), it is placed again by the current map (asked for
// again) and subscribed on its new node; `subscribed` runs again there, so the listener reads
// what it may have missed, as after any reconnect. Runs on the I/O thread.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <unordered_map>

#include "redis/redis_pool.hpp"
#include "redis/redis_subscriber.hpp"

namespace baton::redis_link {

class shard_channels {
public:
  using message_handler = redis_subscriber::message_handler;

  /// `classic` takes the channels when the link is not a Cluster.
  shard_channels(boost::asio::io_context& io, const link_settings& settings, redis_pool& pool,
                 redis_subscriber& classic);
  ~shard_channels();
  shard_channels(const shard_channels&) = delete;
  shard_channels& operator=(const shard_channels&) = delete;

  /// As redis_subscriber::subscribe: `subscribed` runs each time the channel's (new) node
  /// confirms it; from then on no message published there is missed.
  void subscribe(const std::string& channel, message_handler handler,
                 std::function<void()> subscribed = nullptr);
  void unsubscribe(const std::string& channel);

  void start();
  void stop();
  /// The slot map changed (redis_pool::on_map_change): channels whose slot moved follow it.
  void map_changed();

  /// Whether channels are sharded (a Cluster): publishers use SPUBLISH then.
  bool sharded() const { return pool_.clustered(); }
  /// How many followed channels have no node now (waiting for the map); for tests and INFO.
  std::size_t unplaced() const;

private:
  struct followed {
    message_handler on_message;
    std::function<void()> on_subscribed;
    std::string node; ///< "host:port" of the node subscribed on; empty while unplaced
    /// The node that last refused or dropped it: while the map still names that node, the
    /// map is behind, and placing it there again would only be refused again.
    std::string refused_by;
  };

  /// Subscribes `channel` on the node the map names for its slot, or leaves it unplaced.
  /// `retrying`: by the retry timer, which skips a node that refused it (see refused_by).
  void place(const std::string& channel, bool retrying = false);
  void moved_away(const std::string& node, const std::string& channel);
  void leave_node(const std::string& node, const std::string& channel);
  redis_subscriber& subscriber_for(const redis_endpoint& endpoint, const std::string& node);
  /// While some channel has no node: ask for the map and try again.
  void arm_retry();

  boost::asio::io_context& io_;
  link_settings settings_;
  redis_pool& pool_;
  redis_subscriber& classic_;
  std::unordered_map<std::string, followed> channels_;
  std::map<std::string, std::shared_ptr<redis_subscriber>> nodes_;
  boost::asio::steady_timer retry_;
  bool retry_armed_ = false;
  bool started_ = false;
  bool stopped_ = false;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

} // namespace baton::redis_link
