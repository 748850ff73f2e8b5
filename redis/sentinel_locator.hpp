// Finds a replication group's master through its Sentinels and follows it across failovers.
//
// It keeps a connection to every sentinel for questions and one subscribed to
// `+switch-master` on each. It asks all of them `SENTINEL MASTER name` at start, on every
// `+switch-master`, whenever the pool doubts its server (a replica answered ROLE, a write met
// READONLY, a connection broke), and every `sentinel_refresh`. Of the answers it takes the one
// with the highest config epoch: a sentinel cut off from the others during a failover still
// names the old master with the old epoch, and must not win because it answered first.
// A new address goes to every handler (the pool and the event subscriber), which move their
// connections there; a connection still verifies with ROLE that the server is the master.
// From the moment a failover's leader selects the replica to promote until the new master is
// known, the pool holds its calls (see hold()): the old master would take writes it loses.
// Runs on the I/O thread.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "redis/link_counters.hpp"
#include "redis/link_settings.hpp"
#include "redis/redis_connection.hpp"
#include "redis/redis_subscriber.hpp"

namespace baton::redis_link {

/// One sentinel's view of the master, from `SENTINEL MASTER name`.
struct master_view {
  std::string host;
  unsigned short port = 0;
  std::int64_t config_epoch = -1;
  std::string flags; ///< e.g. "master", "master,s_down,o_down"
};

/// True if a Sentinel event's payload ("master <name> ..." or "... @ <name> ...") is about
/// the master named `master_name`.
bool event_is_about(const std::string& payload, const std::string& master_name);

/// Of one round's answers (nullopt: no usable answer), the master to use: the highest config
/// epoch not older than `current`'s, the current address on a tie; or, when every answer is
/// older, the address a majority of the `sentinels` agrees on (a redeployed Sentinel). Null:
/// none to believe.
const master_view* choose_master(const std::vector<std::optional<master_view>>& views,
                                 const std::optional<master_view>& current, std::size_t sentinels);

/// Reads the flat field/value reply of `SENTINEL MASTER`; nullopt if it lacks ip or port.
std::optional<master_view> parse_master_view(const redis_reply& reply);

class sentinel_locator final : public connection_listener,
                               public std::enable_shared_from_this<sentinel_locator> {
public:
  using master_handler = std::function<void(const redis_endpoint& master)>;

  sentinel_locator(boost::asio::io_context& io, const link_settings& settings,
                   link_counters& counters);
  ~sentinel_locator() override;

  /// Called with every new master address (not with the same one again).
  void on_master(master_handler handler) { handlers_.push_back(std::move(handler)); }
  /// Called with true when a failover of the master starts (calls should wait: the old master
  /// still takes writes that the promotion loses), and false when it is over (after the new
  /// master went to on_master), aborted, or not over within `sentinel_failover_hold`.
  void on_hold(std::function<void(bool)> handler) { hold_handlers_.push_back(std::move(handler)); }
  void start();
  void stop();
  /// Asks the sentinels again soon; calls in one burst share one round.
  void refresh(const std::string& why);

  /// The master in use, or nullopt before the first answer.
  const std::optional<master_view>& master() const { return master_; }
  std::size_t sentinels_ready() const;

  // -- connection_listener (the query connections) ------------------------------
  void on_ready(std::size_t index) override;
  void on_down(std::size_t, const std::string&) override {}
  void on_success() override {}
  void on_failure() override {}

private:
  void ask();
  void on_answers(std::vector<std::optional<master_view>> views);
  void arm_refresh(milliseconds after);
  void hold(const std::string& why, std::size_t leader);
  void release(const std::string& why);

  boost::asio::io_context& io_;
  link_settings settings_; ///< the servers' settings; `sentinel_settings_` per sentinel
  std::vector<link_settings> sentinel_settings_;
  link_counters& counters_;
  link_counters sentinel_counters_; ///< the sentinels' own traffic stays out of Redis' metrics
  std::vector<std::shared_ptr<redis_connection>> queries_;
  std::vector<std::shared_ptr<redis_subscriber>> watchers_;
  std::vector<master_handler> handlers_;
  std::vector<std::function<void(bool)>> hold_handlers_;
  boost::asio::steady_timer hold_timer_;
  bool holding_ = false;
  std::size_t hold_leader_ = 0;     ///< the watcher whose sentinel leads the failover
  std::uint64_t hold_sequence_ = 0; ///< the hold timer's current wait
  bool refresh_wanted_ = false;     ///< asked while no sentinel was ready
  std::optional<master_view> master_;
  boost::asio::steady_timer refresh_timer_;
  bool refresh_armed_ = false;
  clock::time_point refresh_wake_{};
  std::uint64_t refresh_sequence_ = 0; ///< the timer's current wait; older ones ignore
  clock::time_point last_round_{};
  bool asking_ = false;    ///< a round is out
  bool ask_again_ = false; ///< a refresh came while it was
  bool warned_unknown_ = false;
  bool stopped_ = false;
};

} // namespace baton::redis_link
