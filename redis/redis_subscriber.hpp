// One Redis connection in subscribe mode: fast news between daemons (a lease released, later
// a secret rotated or a node draining). Channels are registered with a handler; after every
// (re)connect all are subscribed again and the reconnect handlers run, because messages sent
// while the connection was down are gone and listeners must catch up on their own.
// Runs on the I/O thread; reconnects with the link's backoff.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

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

  redis_subscriber(boost::asio::io_context& io, const link_settings& settings);
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
  void fail(const std::string& reason);

  boost::asio::io_context& io_;
  link_settings settings_;
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
  std::vector<char> read_buffer_;
  std::string output_;  ///< commands waiting for the next write
  std::string writing_; ///< the write in flight
  bool write_in_flight_ = false;
  std::size_t handshake_left_ = 0;
  boost::asio::steady_timer timer_;
  unsigned attempt_ = 0;
  std::minstd_rand jitter_;
};

} // namespace baton::redis_link
