// Everything a running batond is made of, built in one place from the validated config: the
// reactor, the Redis link, the actor system and its actors, each family's service, the local
// API socket and HTTP. Members are declared in the order they are built, so that they are
// destroyed in the reverse: the servers before the services, the services before the actors'
// system (which waits for its actors), the link last.
#pragma once

#include <boost/asio/io_context.hpp>
#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>

#include <memory>
#include <string>
#include <vector>

#include "actors/redis_health/redis_health_actor.hpp"
#include "actors/redis_link/redis_link_actor.hpp"
#include "daemon/config.hpp"
#include "daemon/daemon_context.hpp"
#include "daemon/http_server.hpp"
#include "daemon/socket_server.hpp"
#include "metrics/request_metrics.hpp"
#include "redis/link_counters.hpp"
#include "redis/link_settings.hpp"
#include "redis/redis_pool.hpp"
#include "redis/redis_subscriber.hpp"
#include "redis/sentinel_locator.hpp"
#include "redis/shard_channels.hpp"
#include "services/breaker/breaker_service.hpp"
#include "services/dedup/dedup_service.hpp"
#include "services/cache/cache_service.hpp"
#include "services/events/events_service.hpp"
#include "services/state/state_service.hpp"
#include "services/lease/lease_service.hpp"
#include "services/lease/lease_watch.hpp"
#include "services/membership/membership_service.hpp"
#include "services/rate/rate_service.hpp"
#include "services/secret/secret_service.hpp"
#include "services/session/session_service.hpp"

namespace baton {

struct daemon_parts {
  config cfg;
  redis_link::link_settings link;
  std::string run_id; ///< random per start: this run's leases and claims are its own
  boost::asio::io_context io{1};
  redis_link::link_counters counters;
  std::unique_ptr<metrics::request_metrics> requests;
  std::unique_ptr<redis_link::redis_pool> pool;
  /// With a redis-sentinel:// URL: finds the master and moves the pool and `events` there.
  std::shared_ptr<redis_link::sentinel_locator> sentinels;
  std::unique_ptr<daemon_context> ctx;
  // -- the actors (actors/README.md) --------------------------------------------------------
  caf::actor_system_config actor_config;
  std::unique_ptr<caf::actor_system> system;
  redis_link::redis_link_actor link_actor;
  std::vector<caf::actor_addr> actors; ///< long-lived actors to stop at the end
  redis_health::redis_health_actor health; ///< the sampler; null when it is off
  // -- the services, on the reactor ---------------------------------------------------------
  std::shared_ptr<redis_link::redis_subscriber> events;
  /// Channels of one slot (lease watch channels): sharded pub/sub on a Cluster, else `events`.
  std::unique_ptr<redis_link::shard_channels> shard_events;
  std::unique_ptr<lease::lease_service> leases;
  std::unique_ptr<lease::lease_watch> lease_watch;
  std::unique_ptr<rate::rate_service> rates;
  std::unique_ptr<dedup::dedup_service> dedup;
  std::unique_ptr<state::state_service> state;
  std::unique_ptr<cache::cache_service> cache;
  std::unique_ptr<events::events_service> topics; ///< EVENTS (`events` is the subscriber)
  std::unique_ptr<membership::membership_service> members;
  std::shared_ptr<secret::keyring> keys = std::make_shared<secret::keyring>();
  std::unique_ptr<breaker::breaker_service> breakers;
  std::unique_ptr<secret::secret_service> secrets;    ///< only with KEKs configured
  std::unique_ptr<session::session_service> sessions; ///< only with KEKs configured
  // -- the servers -------------------------------------------------------------------------
  std::unique_ptr<socket_server> server;
  std::unique_ptr<http_server> http;

  /// Asks every actor to stop (the system then waits for them as it goes).
  void stop_actors();
};

/// Builds every part (nothing runs yet); null, with the reason logged, if one cannot be.
std::unique_ptr<daemon_parts> build_daemon(config cfg);

/// Starts serving: the sockets listen, the link connects, the services follow their events.
/// False (logged) if a socket cannot be opened.
bool start_daemon(daemon_parts& d);

} // namespace baton
