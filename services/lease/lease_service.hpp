// Leases with fencing tokens, as this daemon's clients see them. It owns the leases its
// clients hold: which connection holds which name, the safe validity of each (measured from
// when the request was *sent*, minus the drift margin), the renewal of KEEP leases, and the
// release of a connection's leases when it closes. Redis holds the truth (lua/lease_*.lua).
//
// It runs on the I/O thread, like the Redis pool, rather than in a CAF actor: an ACQUIRE is
// on the hot path, and bench/actor_hop_bench measured a hop into an actor and back at ~55 us
// p50 and a third of this 2-core machine at the rates the lease benchmark asks for. What lives
// across time, the renewal of KEEP leases and the `lost` verdict before a kept lease's safe
// end, is the lease keeper's (actors/lease_keeper): told by message, it answers by posting
// news here. WAIT queues stay here: they answer a request, and a hop would cost every waiter.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "actors/lease_keeper/lease_keeper.hpp"
#include "model/caller.hpp"
#include "model/lease/lease_event.hpp"
#include "model/lease/lease_holder.hpp"
#include "protocol/result.hpp"
#include "redis/cleanup_retrier.hpp"
#include "redis/redis_pool.hpp"
#include "redis/redis_subscriber.hpp"
#include "services/lease/token_floor_file.hpp"

namespace baton::lease {

using clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

struct lease_settings {
  std::string prefix = "baton";
  std::string node_id = "node";
  std::string run_id = "run";    ///< random per daemon start: owners of a previous run are others
  milliseconds drift_margin{10}; ///< the floor of the margin (model/lease/drift.hpp)
  double drift_fraction = 0;     ///< the margin's share of the TTL
  milliseconds lock_delay{0};
  std::size_t max_name_length = 256;
  milliseconds min_ttl{10};
  milliseconds max_ttl{24 * 3600 * 1000};
  /// Where the highest token seen is kept across restarts (token_floor_file); empty: nowhere.
  std::string floor_file;
  /// A Cluster: grants are announced with SPUBLISH, for shard_channels' subscribers.
  bool sharded_watch = false;
};

struct acquire_request {
  std::string name;
  milliseconds ttl{0};
  bool keep = false;
  std::string meta;
  std::optional<milliseconds> wait; ///< WAIT: queue until free or this long has passed
  std::uint64_t connection = 0;
  std::string client; ///< "uid=... pid=... name=..." for INFO
  caller who;         ///< the lease is this uid's; a DENIED names the holder only as it may see
};

/// ACQUIRE and RENEW: the lease is the caller's under `token`, safely for `validity`.
struct lease_grant {
  std::int64_t token = 0;
  milliseconds validity{0};
};

/// RELEASE: done.
struct released {};

/// INFO: who holds the lease (holding it or in lock-delay); nullopt when it is free.
struct lease_info {
  std::optional<lease_holder> holder;
};

/// The failures of a lease call: err (bad arguments), unavailable (Redis did not answer in
/// time), denied (someone else holds it, or lock-delay: a lease_holder is the context), lost
/// (the lease is no longer this token's), notheld (this daemon holds no lease under it).
template <class T>
using lease_callback = std::function<void(protocol::result<T>)>;

class lease_service {
public:
  lease_service(boost::asio::io_context& io, redis_link::redis_pool& redis,
                lease_settings settings);
  /// Writes the token floor down if it grew since it last was.
  ~lease_service();

  /// Listens for releases announced by every daemon (lua/lease_release.lua publishes them),
  /// so that WAIT wakes up at once instead of polling.
  void listen(redis_link::redis_subscriber& events);
  /// Where releases (from every daemon) and this daemon's `lost` verdicts are reported, for
  /// LEASE WATCH and the `lost` push to a holder.
  void on_event(std::function<void(const lease_event&)> sink) { event_sink_ = std::move(sink); }

  void acquire(acquire_request request, lease_callback<lease_grant> done);
  /// `ttl` empty: the ttl it was acquired with. Only the holder's uid may renew (NOPERM).
  void renew(const std::string& name, std::int64_t token, std::optional<milliseconds> ttl,
             const caller& who, lease_callback<lease_grant> done);
  /// Only the holder's uid may release, or an admin that says `force` (NOPERM). Released
  /// from another `connection` than the holder's, the holder hears `lost`.
  void release(const std::string& name, std::int64_t token, const caller& who, bool force,
               std::uint64_t connection, lease_callback<released> done);
  /// The holder as `who` may see it (lease_holder::as_seen_by).
  void info(const std::string& name, const caller& who, lease_callback<lease_info> done);
  /// Names of leases held or in lock-delay, matching a glob pattern ("*" for all), sorted,
  /// at most `list_limit`. Scans Redis (on one node in a cluster).
  void list(const std::string& pattern, lease_callback<std::vector<std::string>> done);
  /// Releases every lease the connection holds (it closed: crash, kill -9, or QUIT). Once the
  /// daemon is stopping, the connections it closes itself have their leases retired instead.
  void connection_closed(std::uint64_t connection);
  /// The daemon is stopping and will close its clients' connections: from now on their
  /// leases are retired, not released (see retire_all).
  void stopping();
  /// Retires every lease this daemon holds (clean stop): each ends at the end its holder was
  /// promised (a KEEP holder, told by its connection closing, after the same notice it gets
  /// when renewal fails), without lock-delay, rather than at once while the holder may still
  /// use it. `done` runs when Redis answered for all of them, or their calls ran out of budget.
  void retire_all(std::function<void()> done);

  /// Hands KEEP leases to the keeper from now on (main spawns it once the actors run).
  void use_keeper(lease_keeper_actor keeper) { keeper_ = std::move(keeper); }
  /// The Redis master moved (Sentinel): every KEEP lease is renewed at once, so that a grant
  /// the failover lost is reported `lost` to its holder now.
  void master_moved();
  /// What the keeper found (renewed, lost, stopped); on the I/O thread, posted by main.
  void on_keeper_news(const keeper_news& news);

  /// The token under which `connection` holds `name` on this node, if it does.
  std::optional<std::int64_t> token_held_by(const std::string& name,
                                            std::uint64_t connection) const;

private:
  struct held_lease {
    std::string owner;
    std::string meta;
    std::string client; ///< "uid=... pid=...", as a DENIED from this node names the holder
    std::int64_t token = 0;
    std::uint64_t connection = 0;
    std::int64_t uid = caller::unknown_uid; ///< the holder's; only it may renew or release
    milliseconds ttl{0};
    bool keep = false;
    clock::time_point valid_until; ///< safe validity: sent + ttl - drift (KEEP: - notice)
  };

  std::string owner_for(std::uint64_t connection) const;
  /// When a lease sent at `sent` stops being safe to use. A KEEP lease ends `notice` earlier
  /// still: its holder relies on the `lost` push, which must reach it while the lease is safe.
  clock::time_point safe_until(clock::time_point sent, milliseconds ttl, bool keep) const;
  void emit(const lease_event& event) const;
  /// NOPERM when `who` may not act on `h` (another uid's; `force` lets an admin release).
  std::optional<protocol::failure> refuse_other_uid(const std::string& name, const held_lease& h,
                                                    const caller& who, bool force) const;
  /// Empty when `ttl` is within the configured bounds, else the reason.
  std::string check_ttl(milliseconds ttl) const;
  /// lua/lease_renew.lua and lua/lease_release.lua with their keys and arguments.
  void send_renew(const std::string& name, const std::string& owner, std::int64_t token,
                  milliseconds ttl, redis_link::reply_callback done,
                  std::optional<milliseconds> budget = std::nullopt);
  void send_release(const std::string& name, const std::string& owner, std::int64_t token,
                    redis_link::reply_callback done);
  /// Gives a lease up the way a stopping daemon must: lua/lease_retire.lua, with an end that
  /// Redis measures (see retire_all).
  void retire_quietly(const std::string& name, const held_lease& h);
  /// Raises the token floor to `token` (a grant, or a holder a refusal named); the file
  /// follows within a second, and at the stop.
  void remember_token(std::int64_t token);
  /// `durable`: at the stop (fsync); while running, the write only has to outlive the process.
  void persist_floor(bool durable);
  void forget(const std::string& name);
  void mark_lost(const std::string& name, std::int64_t token);
  bool was_lost(const std::string& name, std::int64_t token) const;
  void wake_at(clock::time_point when);
  void on_keep_timer();
  /// Tells the keeper to keep `h` (a KEEP lease granted or renewed by a request sent at `sent`).
  void hand_to_keeper(const std::string& name, const held_lease& h, clock::time_point sent);
  void retire_now(std::function<void()> done);
  // -- WAIT ------------------------------------------------------------------------
  struct waiter {
    acquire_request request;
    lease_callback<lease_grant> done;
    clock::time_point deadline;
    std::optional<protocol::failure> last_denial; ///< the last DENIED its attempts heard
  };
  struct wait_queue {
    std::deque<waiter> waiters; ///< arrival order on this host
    bool trying = false;        ///< the head's attempt is on its way
    std::unique_ptr<boost::asio::steady_timer> timer;
    std::uint64_t timer_generation = 0;
  };
  void attempt(acquire_request request, lease_callback<lease_grant> done);
  void enqueue_waiter(waiter w);
  void try_head(const std::string& name);
  void schedule_retry(const std::string& name, clock::time_point when);
  void wake(const std::string& name);
  std::unordered_map<std::string, wait_queue> waiting_;

  // -- acquisitions Redis did not answer in time (lease_unanswered.cpp) ---------------
  /// Makes the answer certain: the lease is not the caller's. A grant Redis may have made is
  /// abandoned (lua/lease_abandon.lua), unless the connection held the lease already (a
  /// re-acquire: its earlier grant stands). An abandon that fails is retried until it lands.
  void resolve_unanswered(const acquire_request& request, const std::string& owner,
                          const std::string& request_id, const redis_link::redis_reply& reply,
                          const lease_callback<lease_grant>& done);
  std::uint64_t request_sequence_ = 0; ///< ids of this daemon run's acquisitions
  redis_link::cleanup_retrier cleanups_;

  void release_quietly(const std::string& name, const std::string& owner, std::int64_t token);

  boost::asio::io_context& io_;
  redis_link::redis_pool& redis_;
  lease_settings settings_;
  std::unordered_map<std::string, held_lease> held_;
  std::unordered_map<std::uint64_t, std::vector<std::string>> by_connection_;
  /// The highest token seen for any name: one floor for all names is as safe as one per
  /// name (tokens need only increase per name) and needs no bound.
  std::int64_t highest_token_ = 0;
  std::int64_t persisted_token_ = 0; ///< what the floor file holds
  token_floor_file floor_file_;
  boost::asio::steady_timer floor_timer_;
  bool floor_timer_armed_ = false;
  bool floor_save_failing_ = false;
  bool persisted_durably_ = true; ///< the last write was synced (or there was none)
  std::unordered_map<std::string, std::int64_t> lost_; ///< lapsed here: name -> token
  std::size_t releases_in_flight_ = 0;
  std::function<void()> when_released_; ///< retire_all's `done`, once none is in flight
  bool stopping_ = false;
  std::function<void(const lease_event&)> event_sink_;
  lease_keeper_actor keeper_;
  std::function<void()> after_keeper_stopped_; ///< retire_all, once the keeper has stopped
  bool keeper_stopped_ = false; ///< stopping: no renewal of the keeper's is on its way any more
  std::vector<std::pair<std::string, held_lease>> deferred_retires_; ///< until the keeper stops
  void keeper_has_stopped();
  boost::asio::steady_timer stop_wait_timer_;
  boost::asio::steady_timer keep_timer_;
  bool keep_timer_armed_ = false;
  clock::time_point keep_timer_at_{};
};

} // namespace baton::lease
