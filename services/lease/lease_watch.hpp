// Follows the leases this daemon's clients LEASE WATCH (or ELECT WATCH) and reports every
// change of hands as a lease_event. For each watched name it subscribes to the name's watch
// channel (grants), hears releases from the lease service (the common channel) and this
// daemon's `lost` verdicts, and notices expiries itself: no script runs when a holder's time
// simply runs out, so at the holder's expected end it reads the lease once and reports
// `expired` if the holder is gone. A renewed lease costs a watching daemon one read per TTL.
//
// After (re)subscribing it reads the current holder, so a grant in between is not missed;
// ends of holdership that only such a read saw (the event connection was down) are
// reported as `expired`.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "model/lease/known_holder.hpp"
#include "model/lease/lease_event.hpp"
#include "redis/redis_pool.hpp"
#include "redis/shard_channels.hpp"

namespace baton::lease {

class lease_watch {
public:
  using event_sink = std::function<void(const lease_event&)>;

  lease_watch(boost::asio::io_context& io, redis_link::redis_pool& redis,
              redis_link::shard_channels& events, std::string prefix);
  ~lease_watch();

  void on_event(event_sink sink) { sink_ = std::move(sink); }

  /// Counts one more watcher of `name`; the first one starts following it.
  void watch(const std::string& name);
  /// Counts one watcher less; the last one stops following it.
  void unwatch(const std::string& name);
  /// Calls `done` once the name is followed without a gap (at once if it already is): from
  /// then on known() is current and every change arrives as an event.
  void when_followed(const std::string& name, std::function<void()> done);

  /// The holder known now (token 0: none, or not followed).
  known_holder known(const std::string& name) const;

  /// Releases and `lost` verdicts, from the lease service; ignored for names not watched.
  void observe(const lease_event& event);

private:
  struct followed {
    std::size_t watchers = 0;
    bool synced = false;          ///< subscribed and the holder read since
    bool ever_synced = false;     ///< the first read adopts the holder without events
    std::uint64_t generation = 0; ///< changes with every event, so stale reads are dropped
    std::uint64_t followed_since = 0;
    known_holder holder;
    std::int64_t last_ended = 0; ///< the last token reported ended (drops late duplicates)
    std::unique_ptr<boost::asio::steady_timer> timer;
    std::vector<std::function<void()>> waiting; ///< when_followed before the first sync
  };

  void on_message(const std::string& name, const std::string& payload);
  void on_subscribed(const std::string& name);
  /// Reads the lease and reconciles what is known with it.
  void check(const std::string& name);
  void reconcile(const std::string& name, std::uint64_t generation,
                 const redis_link::redis_reply& reply);
  void granted(followed& f, const std::string& name, std::int64_t token, known_holder holder,
               std::chrono::milliseconds ttl);
  void ended(followed& f, const std::string& name, lease_event::kind how, std::int64_t token);
  void check_at(const std::string& name, std::chrono::milliseconds from_now);
  void report(lease_event event) const;

  boost::asio::io_context& io_;
  redis_link::redis_pool& redis_;
  redis_link::shard_channels& events_;
  std::string prefix_;
  std::unordered_map<std::string, followed> names_;
  std::uint64_t next_generation_ = 0;
  event_sink sink_;
};

} // namespace baton::lease
