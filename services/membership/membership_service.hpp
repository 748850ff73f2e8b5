// This daemon's membership in the fleet: a record in Redis (id, address, version, state,
// session count, start time) kept alive by a heartbeat with a TTL, join/drain/leave announced
// on pub/sub, and the list of live members for NODE LIST and for choosing handoff targets.
// A daemon that stops cleanly leaves at once; one that dies is swept out by the next
// heartbeat of any other after the TTL.
//
// Runs on the I/O thread, like the other services.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "redis/redis_pool.hpp"
#include "redis/redis_subscriber.hpp"

namespace baton::membership {

using std::chrono::milliseconds;

struct membership_settings {
  std::string prefix = "baton";
  std::string node_id = "node";
  std::string run_id = "run";
  std::string address; ///< how apps and load balancers reach this host
  std::string version; ///< batond's version
  milliseconds heartbeat{1000};
  milliseconds ttl{5000};
};

struct node_record {
  std::string id;
  std::string address;
  std::string version;
  std::string state; ///< active or draining
  std::string run_id;
  std::int64_t sessions = 0;
  std::int64_t started_ms = 0;
  std::int64_t heartbeat_age_ms = 0;
};

struct node_event {
  std::string what; ///< join, drain, leave
  std::string node;
  std::string how; ///< leave: clean (it stopped) or expired (its heartbeats stopped)
};

class membership_service {
public:
  membership_service(boost::asio::io_context& io, redis_link::redis_pool& redis,
                     membership_settings settings);

  /// Follows the announcements and starts heartbeating (the first beat at once).
  void start(redis_link::redis_subscriber& events);
  /// Marks this node draining and beats at once; `done(ok)` when Redis has the new state.
  void drain(std::function<void(bool)> done);
  /// Leaves the fleet (at stop): the record goes at once; `done` runs in any case.
  void leave(std::function<void()> done);

  bool draining() const { return draining_; }
  /// The live members (or one), as Redis has them now.
  void list(const std::string& one,
            std::function<void(bool ok, std::vector<node_record>, std::string why)> done);

  /// The session count written into this node's record (set by the session service).
  void set_session_count(std::function<std::int64_t()> count) { sessions_ = std::move(count); }
  void on_event(std::function<void(const node_event&)> handler) { handler_ = std::move(handler); }

private:
  void beat(std::function<void(bool)> done = nullptr);
  void arm();
  std::string record_json() const;

  redis_link::redis_pool& redis_;
  membership_settings settings_;
  std::string records_key_, seen_key_, channel_;
  boost::asio::steady_timer timer_;
  std::int64_t started_ms_;
  bool draining_ = false;
  bool stopped_ = false;
  bool reachable_ = true; ///< the last heartbeat reached Redis (logged on each change)
  std::function<std::int64_t()> sessions_;
  std::function<void(const node_event&)> handler_;
};

/// Where join/drain/leave are announced.
std::string node_events_channel(const std::string& prefix);

} // namespace baton::membership
