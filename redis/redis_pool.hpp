// The Redis link's I/O half, as every service sees it: calls and scripts in, replies out,
// within a time budget. Behind it, one node_pool (a single Redis, or the master a Sentinel
// group names) or, on a Redis Cluster, one node_pool per node: each call goes to the primary
// that serves its key's slot, follows MOVED (and updates the slot map) and ASK (once, after
// ASKING), retries TRYAGAIN and CLUSTERDOWN within its budget, and the map is asked again on
// redirects, broken connections and periodically. Every method runs on the I/O thread;
// actors reach it through redis_link_actor, which posts onto that thread.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "redis/cluster_map.hpp"
#include "redis/node_pool.hpp"

namespace baton::redis_link {

struct scan_state;

/// What one page of scan_page() found.
struct scan_page_result {
  enum class status { ok, bad_cursor, stale_cursor, failed };
  status outcome = status::ok;
  std::string cursor = "0"; ///< where the next page starts; "0": the scan is complete
  std::vector<std::string> keys;
  std::string error;        ///< why, when not ok
  bool unavailable = false; ///< failed because Redis did not answer (not a refusal of Redis')
};

class redis_pool {
public:
  redis_pool(boost::asio::io_context& io, link_settings settings, link_counters& counters);
  ~redis_pool();
  redis_pool(const redis_pool&) = delete;
  redis_pool& operator=(const redis_pool&) = delete;

  void start();
  void stop();

  /// Sends one command; `done` runs exactly once on the I/O thread, within the time budget.
  /// On a Cluster it goes to the node of its first key (args[1]); a command without keys
  /// (PING, TIME, PUBSUB NUMSUB's channel aside) to any primary. Use scan() for SCAN.
  void call(std::vector<std::string> args, reply_callback done);
  /// Runs a script of lua/ by name with KEYS and ARGV, on the node of KEYS[1]'s slot (all
  /// its keys share the slot: the hash-tag rule of lua/). `budget` replaces the configured
  /// call budget for work whose real deadline is its own (a renewal has until its lease lapses).
  /// (By value: a Cluster's call keeps them, to send again after a redirect.)
  void run_script(std::string_view name, std::vector<std::string> keys,
                  std::vector<std::string> args, reply_callback done,
                  std::optional<milliseconds> budget = std::nullopt);

  /// `SCAN 0 MATCH match COUNT 1000` to the end, on every primary: `batch` gets each reply's
  /// keys (and returns false to stop early), then `done` runs once, with an error if a node
  /// could not be scanned to the end. A key may come twice (SCAN's own rule): dedupe.
  void scan(std::string match, std::function<bool(std::vector<std::string>& keys)> batch,
            std::function<void(std::optional<std::string> error)> done);

  /// One page of a scan a client drives (STATE SCAN), `SCAN cursor MATCH match COUNT count`.
  /// `cursor` is "0" to begin, then what the last page answered, until a page answers "0".
  /// On a Cluster the cursor also names the primary it is at and the slot map the scan began
  /// under (a hash of it): a cursor from another map is refused (stale), since the keys of a
  /// slot that moved could be missed; the client scans again from "0". SCAN's own rule holds:
  /// a key present throughout is returned at least once, maybe twice.
  void scan_page(const std::string& cursor, std::string match, std::size_t count,
                 std::function<void(scan_page_result)> done);

  /// Sends one keyless command (INFO, LATENCY LATEST) to every primary: the one server, or
  /// each primary of a Cluster's map now. `done` runs once, on the I/O thread, when each has
  /// answered within its budget, with one reply per primary in address order, each an array
  /// [address "host:port", its reply]; with none when no primary is known yet.
  void call_each_primary(std::vector<std::string> args,
                         std::function<void(std::vector<redis_reply>)> done);

  /// While set, calls go to the connection this key maps to (if it is ready), so that the
  /// calls one client makes reach Redis in the order it made them, as its pipeline would
  /// against Redis itself. The command router sets it around each request.
  void set_affinity(std::optional<std::uint64_t> key);

  link_status status() const;
  /// status().reachable() without building the status (its strings): for the request path,
  /// which asks on every SECRET GET and BREAKER CHECK. On a Cluster: every slot has a
  /// primary whose pool is reachable.
  bool reachable() const;
  /// Changes the per-call budget (SIGHUP reload).
  void set_call_timeout(milliseconds budget);

  // -- Sentinel (one node) -----------------------------------------------------
  /// Points every connection at another server: the master Sentinel names now.
  void retarget(const redis_endpoint& master);
  /// While held (a failover under way), calls wait in the queue within their budgets.
  void hold(bool held);
  /// Runs when the pool doubts its server is (still) the master (see node_pool).
  void on_master_doubt(std::function<void(const std::string& why)> handler);

  // -- Cluster -----------------------------------------------------------------
  bool clustered() const { return settings_.uses_cluster(); }
  /// The node serving `key`'s slot now (a Cluster), or the one server; nullopt while unknown.
  std::optional<redis_endpoint> endpoint_for(std::string_view key) const;
  /// Runs after each refresh that changed the slot map (a Cluster): a subscriber follows its
  /// channel's node with it. `primary_left`: a node that was a primary serves no slot now (a
  /// failover, which may have lost writes), not only slots that moved (a migration loses none).
  void on_map_change(std::function<void(bool primary_left)> handler) {
    map_changed_ = std::move(handler);
  }
  /// Asks a node for the slot map again (soon, once, however often it is asked meanwhile).
  void refresh_map(const std::string& why);

private:
  struct routed_call; // a call on a Cluster, followed across redirects

  node_pool& node(const node_address& address);
  node_pool* any_primary();
  void route(std::shared_ptr<routed_call> call, const node_address* to, bool asking);
  void answer(const std::shared_ptr<routed_call>& call, redis_reply reply);
  void on_reply(std::shared_ptr<routed_call> call, const node_address& asked, redis_reply reply);
  void retry_later(std::shared_ptr<routed_call> call, milliseconds delay);
  void ask_for_map(std::vector<node_address> candidates, std::size_t next);
  void arm_refresh_timer(milliseconds delay);
  void publish_breaker_state();
  /// After map_ changed (`routes_changed`: a slot goes elsewhere), the kept views of it.
  void map_updated(bool routes_changed);
  void retire_departed();
  void scan_node(std::shared_ptr<scan_state> state);
  /// The primaries in address order and a hash of which of them serves each slot: what a
  /// Cluster scan cursor is valid under.
  std::vector<node_pool*> scan_layout(std::string& tag);

  boost::asio::io_context& io_;
  link_settings settings_;
  link_counters& counters_;
  /// One server's pool, or a Cluster's: by "host:port". Never erased before stop(): replies
  /// may still be on their way through a node that left the map.
  std::map<std::string, std::unique_ptr<node_pool>> nodes_;
  node_pool* single_ = nullptr; ///< not a Cluster: the only pool
  cluster_map map_;
  std::vector<node_address> primaries_;   ///< map_'s primaries, kept with it (map_updated)
  std::vector<node_pool*> primary_pools_; ///< their pools, in the same order
  std::vector<node_pool*> slot_pools_;    ///< slot -> its primary's pool, or nullptr
  std::size_t unserved_ = cluster_slots;  ///< map_'s slots without a primary
  std::optional<std::uint64_t> affinity_;
  /// Calls waiting out a TRYAGAIN or CLUSTERDOWN: stop() answers them.
  struct waiting_retry {
    std::shared_ptr<boost::asio::steady_timer> timer;
    std::shared_ptr<routed_call> call;
  };
  std::map<std::uint64_t, waiting_retry> retries_;
  std::uint64_t retry_sequence_ = 0;
  boost::asio::steady_timer refresh_timer_;
  /// Pools of nodes that left the cluster, stopped: kept (never freed) because replies and
  /// timers may still reach them; a node that comes back gets a new pool.
  std::vector<std::unique_ptr<node_pool>> retired_;
  std::map<std::string, int> absent_refreshes_;   ///< node -> refreshes it was missing from
  std::uint64_t routes_version_ = 0;              ///< counts route changes: a scan checks it
  std::uint64_t announced_version_ = 0;           ///< routes_version_ map_changed_ last heard
  std::vector<node_address> announced_primaries_; ///< the primaries map_changed_ last heard
  bool refreshing_ = false;                       ///< a CLUSTER SLOTS is on its way
  bool refresh_again_ = false;                    ///< asked for while one was on its way
  clock::time_point last_refresh_{};
  std::string last_map_error_;
  std::function<void(bool)> map_changed_;
  std::function<void(const std::string&)> master_doubt_;
  bool started_ = false;
  bool stopped_ = false;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true); ///< for timers that outlive us
};

} // namespace baton::redis_link
