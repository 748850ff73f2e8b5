// This daemon's membership in the fleet, as the reactor sees it: join/drain/leave announced
// on pub/sub, and the list of live members for NODE LIST and for choosing handoff targets.
// The record in Redis (id, address, version, state, session count, start time) is kept alive
// by the heartbeat actor (actors/membership); a daemon that stops cleanly leaves at once, one
// that dies is swept out by the next heartbeat of any other after the TTL.
//
// Runs on the I/O thread, like the other services.
#pragma once

#include <boost/asio/io_context.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "actors/membership/membership_actor.hpp"
#include "model/membership/node_list.hpp"
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


struct node_event {
  std::string what; ///< join, drain, leave
  std::string node;
  std::string how; ///< leave: clean (it stopped) or expired (its heartbeats stopped)
};

class membership_service {
public:
  membership_service(boost::asio::io_context& io, redis_link::redis_pool& redis,
                     membership_settings settings);

  /// Starts the heartbeat actor (its first beat at once).
  void use_actors(caf::actor_system& system, redis_link::redis_link_actor link);
  /// Follows the announcements.
  void start(redis_link::redis_subscriber& events);
  /// Marks this node draining and beats at once; `done(ok)` when Redis has the new state.
  void drain(std::function<void(bool)> done);
  /// Leaves the fleet (at stop): the record goes at once; `done` runs in any case.
  void leave(std::function<void()> done);

  bool draining() const { return draining_; }
  /// The live members (or one), as Redis has them now.
  void list(const std::string& one,
            std::function<void(bool ok, std::vector<node_record>, std::string why)> done);

  /// The session count written into this node's record (the session service sets it).
  void set_session_count(std::int64_t n) { sessions_->store(n); }
  /// The heartbeat actor, for the drain (which asks it directly).
  const membership_actor& heartbeat() const { return heartbeat_; }
  void on_event(std::function<void(const node_event&)> handler) { handler_ = std::move(handler); }

private:
  boost::asio::io_context& io_;
  redis_link::redis_pool& redis_;
  membership_settings settings_;
  std::string records_key_, seen_key_, channel_;
  caf::actor_system* system_ = nullptr;
  membership_actor heartbeat_;
  bool draining_ = false;
  std::shared_ptr<std::atomic<std::int64_t>> sessions_ =
      std::make_shared<std::atomic<std::int64_t>>(0);
  std::function<void(const node_event&)> handler_;
};

} // namespace baton::membership
