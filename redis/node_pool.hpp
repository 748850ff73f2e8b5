// One Redis server's pool: a few pipelined connections shared by every caller, the breaker
// around that server, the queue of calls waiting for a connection, and scripts by name
// (EVALSHA, falling back to EVAL on NOSCRIPT, which also reloads the script). A single Redis
// or a Sentinel group's master has one; a Redis Cluster has one per node, and redis_pool
// routes each call to the node that serves its slot. Every method runs on the I/O thread.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "redis/link_counters.hpp"
#include "redis/link_settings.hpp"
#include "redis/redis_breaker.hpp"
#include "redis/redis_connection.hpp"
#include "redis/script_registry.hpp"

namespace baton::redis_link {

/// A snapshot of the link's health for INFO, /readyz and batonctl.
struct link_status {
  std::size_t connections = 0;
  std::size_t ready = 0;
  redis_breaker::state breaker = redis_breaker::state::closed;
  std::string last_error;
  std::string endpoint;
  /// False when a part of the keyspace has no reachable server (a Cluster missing a shard).
  bool complete = true;
  bool reachable() const {
    return complete && ready > 0 && breaker != redis_breaker::state::open;
  }
};

const char* breaker_state_name(redis_breaker::state s);

class node_pool final : public connection_listener {
public:
  node_pool(boost::asio::io_context& io, link_settings settings, link_counters& counters);
  ~node_pool() override;

  void start();
  void stop();

  /// Sends one command; `done` runs exactly once on the I/O thread, within the time budget.
  /// `asking`: send ASKING right before it on the same connection (a Cluster ASK redirect).
  void call(const std::vector<std::string>& args, reply_callback done,
            std::optional<milliseconds> budget = std::nullopt, bool asking = false);
  /// Runs a script of lua/ by name with KEYS and ARGV. `budget` replaces the configured call
  /// budget for work whose real deadline is its own (a renewal has until its lease lapses).
  void run_script(std::string_view name, const std::vector<std::string>& keys,
                  const std::vector<std::string>& args, reply_callback done,
                  std::optional<milliseconds> budget = std::nullopt, bool asking = false);

  /// While set, calls go to the connection this key maps to (if it is ready), so that the
  /// calls one client makes reach Redis in the order it made them, as its pipeline would
  /// against Redis itself. The command router sets it around each request.
  void set_affinity(std::optional<std::uint64_t> key) { affinity_ = key; }

  link_status status() const;
  /// status().reachable() without building the status (its strings): for the request path,
  /// which asks on every SECRET GET and BREAKER CHECK.
  bool reachable() const;
  /// Changes the per-call budget (SIGHUP reload).
  void set_call_timeout(milliseconds budget) { settings_.call_timeout = budget; }

  /// Points every connection at another server: the master Sentinel names now.
  void retarget(const redis_endpoint& master);
  /// While held (a failover under way), calls wait in the queue within their budgets, as if no
  /// connection were ready; released, they go out.
  void hold(bool held);
  /// Runs when the pool doubts its server is (still) the master: a connection found a replica,
  /// met READONLY, or broke. The Sentinel locator asks again.
  void on_master_doubt(std::function<void(const std::string& why)> handler) {
    master_doubt_ = std::move(handler);
  }
  /// Set: the breaker's changes go to this handler instead of the link's breaker_state gauge
  /// (a Cluster's pools share one gauge, which shows the worst of them).
  void on_breaker_change(std::function<void()> handler) { breaker_changed_ = std::move(handler); }
  redis_breaker::state breaker_state() const { return breaker_.current(); }
  /// Answers every call still waiting for a connection with an error reply of `text`: they
  /// never left, and a Cluster's map now sends their slots to another node.
  void give_back_queued(const std::string& text);
  const redis_endpoint& endpoint() const { return settings_.endpoint; }

  // -- connection_listener ---------------------------------------------------
  void on_ready(std::size_t index) override;
  void on_down(std::size_t index, const std::string& reason) override;
  void on_success() override;
  void on_failure() override;
  void on_wrong_role(std::size_t index, const std::string& why) override;

private:
  struct queued_call {
    std::string formatted;
    reply_callback done;
    clock::time_point deadline;
    bool wait = false;
    bool asking = false;
    std::optional<std::uint64_t> affinity; ///< its client's connection, kept while it waits
  };

  /// `wait`: follow the call with WAIT on the same connection (a durable script); `asking`:
  /// precede it with ASKING there.
  void dispatch(std::string formatted, reply_callback done, clock::time_point deadline,
                bool wait = false, bool asking = false);
  void send_then_wait(redis_connection& connection, std::string formatted, reply_callback done,
                      clock::time_point deadline);
  redis_connection* pick_connection();
  void arm_queue_timer_at(clock::time_point wake);
  void send_queued();
  void expire_queue();
  void publish_breaker_state();

  boost::asio::io_context& io_;
  link_settings settings_;
  link_counters& counters_;
  script_registry scripts_;
  redis_breaker breaker_;
  std::vector<std::shared_ptr<redis_connection>> connections_;
  std::deque<queued_call> queue_;
  boost::asio::steady_timer queue_timer_;
  bool queue_timer_armed_ = false;
  clock::time_point queue_wake_{};
  std::uint64_t queue_sequence_ = 0; ///< the queue timer's current wait
  std::size_t next_ = 0;
  std::optional<std::uint64_t> affinity_;
  bool held_ = false;
  bool retargeting_ = false; ///< connections close because the master moved, not failed
  std::string last_error_;
  std::function<void(const std::string&)> master_doubt_;
  std::function<void()> breaker_changed_;
  redis_breaker::state last_published_ = redis_breaker::state::closed;
  std::string asking_command_; ///< "ASKING", formatted once
  std::string wait_command_; ///< "WAIT n timeout", formatted once
  clock::time_point last_short_wait_log_{};
  clock::time_point replicas_missing_until_{}; ///< a WAIT came back short: until then, no WAIT
  bool stopped_ = false;
};

} // namespace baton::redis_link
