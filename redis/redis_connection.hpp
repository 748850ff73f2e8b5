// One pipelined connection to Redis. Commands are appended to an output buffer and written
// in one batch per turn of the event loop, replies are matched to callers in order. A call
// past its budget is answered UNAVAILABLE at once (marked `sent`: Redis may still run it) and
// its late reply dropped; a connection that stays silent for `dead_connection` is closed and
// dialled again with backoff.
// Runs entirely on the I/O thread.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

#include <deque>
#include <functional>
#include <memory>
#include <random>
#include <string>

#include "redis/link_counters.hpp"
#include "redis/link_settings.hpp"
#include "redis/redis_reply.hpp"
#include "redis/redis_transport.hpp"

struct redisReader;

namespace baton::redis_link {

using reply_callback = std::function<void(redis_reply)>;

/// What a connection tells its pool.
class connection_listener {
public:
  virtual ~connection_listener() = default;
  virtual void on_ready(std::size_t index) = 0;
  virtual void on_down(std::size_t index, const std::string& reason) = 0;
  virtual void on_success() = 0;
  virtual void on_failure() = 0;
  /// The server is not the master (ROLE said so, or a write met READONLY): whoever knows
  /// where the master is should look again.
  virtual void on_wrong_role(std::size_t /*index*/, const std::string& /*why*/) {}
};

class redis_connection : public std::enable_shared_from_this<redis_connection> {
public:
  enum class state { idle, connecting, handshaking, ready, stopped };

  redis_connection(boost::asio::io_context& io, const link_settings& settings,
                   link_counters& counters, connection_listener& listener, std::size_t index);
  ~redis_connection();

  redis_connection(const redis_connection&) = delete;
  redis_connection& operator=(const redis_connection&) = delete;

  void start();
  void stop();
  /// Points the connection at another server (Sentinel named a new master). A connection to
  /// the old one is closed at once (its calls answered as a broken connection's are) and the
  /// new one dialled without backoff. An endpoint without a host (a Sentinel group before its
  /// first answer) leaves the connection waiting.
  void retarget(const redis_endpoint& endpoint);
  const redis_endpoint& endpoint() const { return endpoint_; }

  bool ready() const { return state_ == state::ready; }
  std::size_t pending() const { return pending_.size(); }

  /// Sends an already RESP-formatted command; `done` runs exactly once, on the I/O thread.
  void send(std::string formatted, reply_callback done, clock::time_point deadline);

private:
  struct pending_call {
    reply_callback done; ///< empty once answered by a timeout
    clock::time_point deadline;
    clock::time_point sent;
  };

  void connect();
  void on_connected(const boost::system::error_code& ec);
  void handshake();
  void enqueue(std::string formatted, reply_callback done, clock::time_point deadline);
  void schedule_flush();
  void flush();
  void read();
  void on_read(const boost::system::error_code& ec, std::size_t bytes);
  void deliver(redis_reply reply);
  void arm_deadline_timer();
  void arm_deadline_timer_at(clock::time_point wake);
  void on_deadline();
  void fail(const std::string& reason);
  void schedule_reconnect();
  bool has_target() const;

  boost::asio::io_context& io_;
  const link_settings& settings_;
  link_counters& counters_;
  connection_listener& listener_;
  std::size_t index_;
  redis_endpoint endpoint_; ///< where it dials now (the master, with Sentinel)
  std::unique_ptr<redis_transport> transport_;
  /// The transport before a retarget, kept until the next one: its aborted handlers may
  /// still be queued, and an asio stream must outlive its operations.
  std::unique_ptr<redis_transport> retired_transport_;
  bool started_ = false;
  redisReader* reader_ = nullptr;
  state state_ = state::idle;
  std::uint64_t generation_ = 0; ///< bumped on every (re)connect; stale handlers check it
  std::deque<pending_call> pending_;
  std::string output_;        ///< commands waiting for the next write
  std::string writing_;       ///< the batch being written
  std::size_t unwritten_ = 0; ///< calls at the end of pending_ whose bytes are still in output_
  bool write_in_flight_ = false;
  bool flush_scheduled_ = false;
  bool timer_armed_ = false;
  clock::time_point timer_wake_{};
  std::uint64_t timer_sequence_ = 0; ///< the deadline timer's current wait; older ones ignore
  std::vector<char> read_buffer_;
  boost::asio::steady_timer deadline_timer_;
  boost::asio::steady_timer reconnect_timer_;
  unsigned attempt_ = 0;
  bool stopping_ = false;
  std::minstd_rand jitter_;
};

/// Formats a command as RESP (an array of bulk strings).
std::string format_command(const std::vector<std::string>& args);

} // namespace baton::redis_link
