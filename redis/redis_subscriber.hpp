// One Redis connection in subscribe mode: fast news between daemons (a lease released, later
// a secret rotated or a node draining). Channels are registered with a handler; after every
// (re)connect all are subscribed again and the reconnect handlers run, because messages sent
// while the connection was down are gone and listeners must catch up on their own.
// Runs on the I/O thread; reconnects with the link's backoff.
//
// In sharded mode (one node of a Redis Cluster; see shard_channels.hpp) it speaks Redis 7's
// sharded pub/sub instead: one SSUBSCRIBE per channel (a command's channels must share a
// slot), and a channel the node refuses (MOVED) or drops because its slot moved away (Redis
// sends an unasked `sunsubscribe`) is handed back through on_moved_away.
//
// A subscribed connection is PINGed, so that one gone silent is noticed within
// dead_connection_ms (and its listeners told, on_lost) rather than missing messages unseen.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

#include <deque>
#include <functional>
#include <memory>
#include <random>
#include <string>
#include <unordered_map>
#include <vector>

#include "redis/link_settings.hpp"
#include "redis/redis_transport.hpp"

struct redisReader;

namespace baton::redis_link {

class redis_subscriber : public std::enable_shared_from_this<redis_subscriber> {
public:
  using message_handler = std::function<void(const std::string& payload)>;

  enum class mode { classic, sharded };

  redis_subscriber(boost::asio::io_context& io, const link_settings& settings,
                   mode how = mode::classic);
  ~redis_subscriber();

  /// Registers a handler for a channel (one per channel); subscribes now if connected.
  /// `subscribed` runs each time Redis confirms the subscription (again after a reconnect):
  /// from then on no message on the channel is missed, so a listener can read the current
  /// state without a gap.
  void subscribe(const std::string& channel, message_handler handler,
                 std::function<void()> subscribed = nullptr);
  /// Stops listening to a channel; messages still on their way are dropped.
  void unsubscribe(const std::string& channel);
  /// Runs after every successful (re)subscription.
  void on_resubscribed(std::function<void()> handler);
  /// Runs when the connection is lost or moved to another server: from then until the next
  /// subscription messages may be missed (a near cache stops trusting its entries).
  void on_lost(std::function<void()> handler) { lost_.push_back(std::move(handler)); }
  /// Sharded mode: a channel this node no longer serves (refused, or its slot moved away).
  /// It is no longer this subscriber's; the handler finds it a new home.
  void on_moved_away(std::function<void(const std::string& channel)> handler) {
    moved_away_ = std::move(handler);
  }
  /// Messages (or any bytes) have arrived that are not read yet: a listener that must not
  /// act before hearing them (a near cache about to answer from memory) waits or goes around.
  bool has_unread() const { return transport_ && transport_->has_unread(); }
  /// The channels this subscriber follows (sharded mode: gone when it has none left).
  std::size_t channel_count() const { return channels_.size(); }

  void start();
  void stop();
  /// Follows the master to another server (Sentinel): subscribes there at once, and the
  /// reconnect handlers run as after any reconnect (messages in between are gone).
  void retarget(const redis_endpoint& endpoint);

private:
  enum class state { idle, connecting, subscribed, stopped };

  void connect();
  void send(const std::vector<std::string>& args);
  void flush();
  void read();
  void handle(void* reply);
  void handle_sharded(const std::string& kind, const std::string& channel, const void* reply);
  void deliver(const std::string& channel, const void* reply);
  void subscribed_to(const std::string& channel);
  void send_sharded(bool subscribe, const std::string& channel);
  /// Sharded mode: `channel` is no longer served here (see on_moved_away).
  void moved_away(const std::string& channel);
  void fail(const std::string& reason);

  boost::asio::io_context& io_;
  link_settings settings_;
  bool sharded_ = false;
  std::unique_ptr<redis_transport> transport_;
  std::unique_ptr<redis_transport> retired_transport_; ///< see redis_connection's
  bool started_ = false;
  redisReader* reader_ = nullptr;
  state state_ = state::idle;
  std::uint64_t generation_ = 0;
  struct channel_handlers {
    message_handler on_message;
    std::function<void()> on_subscribed;
  };
  std::unordered_map<std::string, channel_handlers> channels_;
  bool subscribe_sent_ = false; ///< this connection's SUBSCRIBE of all channels went out
  std::vector<std::function<void()>> resubscribed_;
  std::vector<std::function<void()>> lost_;
  void tell_lost() {
    for (auto& handler : lost_)
      handler();
  }
  std::function<void(const std::string&)> moved_away_;
  /// Sharded mode: the SSUBSCRIBEs (true) and SUNSUBSCRIBEs sent and not answered yet. An
  /// error names no channel: a MOVED is matched to the first one waiting on its slot.
  std::deque<std::pair<bool, std::string>> pending_;
  std::vector<char> read_buffer_;
  std::string output_;  ///< commands waiting for the next write
  std::string writing_; ///< the write in flight
  bool write_in_flight_ = false;
  std::size_t handshake_left_ = 0;
  boost::asio::steady_timer timer_;
  /// Liveness: a connection that stays silent (a partition that drops packets and sends no
  /// reset) would lose messages unseen. Once subscribed it sends PING every third of
  /// dead_connection_ms and fails when one is not answered within it, as the link does.
  boost::asio::steady_timer ping_timer_;
  bool ping_outstanding_ = false;
  std::chrono::steady_clock::time_point ping_sent_{};
  void arm_ping(std::uint64_t generation);
  unsigned attempt_ = 0;
  std::minstd_rand jitter_;
};

} // namespace baton::redis_link
