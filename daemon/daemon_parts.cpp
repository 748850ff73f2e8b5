// Building a batond; see daemon_parts.hpp.
#include "daemon/daemon_parts.hpp"

#include <boost/asio/post.hpp>
#include <caf/all.hpp>

#include <sys/prctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <cstdio>
#include <random>

#include "actors/lease_keeper/lease_keeper.hpp"
#include "actors/secret_rotation/hook_runner.hpp"
#include "build_info.hpp"
#include "common/log.hpp"
#include "daemon/config_loader.hpp"
#include "daemon/watch_commands.hpp"
#include "model/lease/lease_keys.hpp"
#include "model/secret/kek_loader.hpp"
#include "protocol/command_table.hpp"
#include "services/breaker/breaker_watch_commands.hpp"
#include "services/events/events_commands.hpp"
#include "services/lease/lease_commands.hpp"
#include "services/secret/secret_commands.hpp"
#include "services/session/session_commands.hpp"

namespace baton {
namespace {

// Distinguishes this run of the daemon from earlier ones in lease owner ids, so that a
// restarted daemon never mistakes a lease of its previous life for its own.
std::string random_run_id() {
  std::random_device device;
  std::uniform_int_distribution<std::uint64_t> any;
  char text[17];
  std::snprintf(text, sizeof(text), "%016llx", static_cast<unsigned long long>(any(device)));
  return text;
}

std::vector<std::string> family_labels() {
  std::vector<std::string> families;
  for (const auto& spec : protocol::command_table())
    if (std::find(families.begin(), families.end(), spec.family) == families.end())
      families.emplace_back(spec.family);
  return families;
}

void build_actor_system(daemon_parts& d) {
  d.actor_config.set("scheduler.policy", d.cfg.runtime.scheduler == "sharing"
                                             ? caf::atom("sharing")
                                             : caf::atom("stealing"));
  d.actor_config.set("scheduler.max-threads", d.cfg.runtime.worker_threads);
  d.system = std::make_unique<caf::actor_system>(d.actor_config);
  d.link_actor = redis_link::spawn_redis_link_actor(*d.system, *d.pool, d.io);
}

// The state directory if the daemon can keep files there (created if missing, like systemd's
// StateDirectory= does), else empty with a warning: a daemon that cannot keep its token floor
// still runs, with its clock as the floor across its restarts (model/lease/token_floor.hpp).
std::string usable_state_dir(const std::string& dir) {
  if (dir.empty()) return {};
  if (::mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST) {
    log::warn("daemon", "state_dir " + dir + ": " + std::strerror(errno) +
                            "; the fencing token floor is not kept across restarts");
    return {};
  }
  struct stat st {};
  if (::lstat(dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode) || ::access(dir.c_str(), W_OK) != 0) {
    log::warn("daemon", "state_dir " + dir +
                            " is not a writable directory; the fencing token floor is not kept "
                            "across restarts");
    return {};
  }
  return dir;
}

void build_leases(daemon_parts& d) {
  const auto& cfg = d.cfg;
  lease::lease_settings s;
  s.prefix = cfg.prefix;
  s.node_id = cfg.node_id;
  s.run_id = d.run_id;
  s.drift_margin = cfg.runtime.drift_margin;
  s.drift_fraction = cfg.runtime.drift_fraction;
  s.lock_delay = cfg.leases.lock_delay;
  s.max_name_length = cfg.leases.max_name_length;
  s.min_ttl = cfg.leases.min_ttl;
  s.max_ttl = cfg.leases.max_ttl;
  s.floor_file = lease::token_floor_file::path_in(usable_state_dir(cfg.state_dir), cfg.node_id);
  s.sharded_watch = d.link.uses_cluster();
  d.leases = std::make_unique<lease::lease_service>(d.io, *d.pool, s);
  auto* leases = d.leases.get();
  auto& io = d.io;
  auto keeper =
      lease::spawn_lease_keeper(*d.system, d.link_actor,
                                {cfg.prefix, cfg.runtime.drift_margin, cfg.runtime.drift_fraction,
                                 [&io, leases](std::vector<lease::keeper_news> news) {
                                   boost::asio::post(io, [leases, news = std::move(news)] {
                                     for (const auto& n : news)
                                       leases->on_keeper_news(n);
                                   });
                                 }});
  d.actors.push_back(keeper.address());
  d.leases->use_keeper(keeper);
  d.ctx->leases = leases;
  d.ctx->on_client_closed.push_back([leases](std::uint64_t id) { leases->connection_closed(id); });
  d.leases->listen(*d.events);
  d.lease_watch = std::make_unique<lease::lease_watch>(d.io, *d.pool, *d.shard_events, cfg.prefix);
  d.ctx->lease_watch = d.lease_watch.get();
  connect_lease_pushes(*d.ctx);
}

void build_rates_and_dedup(daemon_parts& d) {
  const auto& cfg = d.cfg;
  rate::rate_settings s;
  s.prefix = cfg.prefix;
  s.policies = cfg.rate.policies;
  s.budget = cfg.rate.budget;
  s.nodes_channel = lease::events_channel(cfg.prefix); // every daemon listens there
  d.rates = std::make_unique<rate::rate_service>(*d.pool, s);
  d.rates->listen(*d.events);
  d.ctx->rates = d.rates.get();
  d.dedup = std::make_unique<dedup::dedup_service>(
      d.io, *d.pool, dedup::dedup_settings{cfg.prefix, cfg.node_id, d.run_id});
  auto* dedup = d.dedup.get();
  d.ctx->dedup = dedup;
  d.ctx->on_client_closed.push_back([dedup](std::uint64_t id) { dedup->connection_closed(id); });
}

// STATE keeps nothing between requests; a sealed namespace uses the secrets' KEKs (loaded by
// build_secrets_and_sessions, which the config checks are configured).
void build_state(daemon_parts& d) {
  d.state = std::make_unique<state::state_service>(*d.pool, *d.keys, d.cfg.node_id, d.run_id);
  d.ctx->state = d.state.get();
  // The near caches follow the invalidation channel on the fleet's event connection.
  d.cache = std::make_unique<cache::cache_service>(*d.pool, d.cfg.cache, d.cfg.prefix);
  d.cache->listen(*d.events);
  d.ctx->cache = d.cache.get();
  d.topics = std::make_unique<events::events_service>(d.io, *d.pool, d.cfg.events, d.cfg.prefix);
  d.topics->listen(*d.events);
  d.ctx->events = d.topics.get();
  connect_events_pushes(*d.ctx);
}

void build_membership(daemon_parts& d) {
  const auto& cfg = d.cfg;
  membership::membership_settings s;
  s.prefix = cfg.prefix;
  s.node_id = cfg.node_id;
  s.run_id = d.run_id;
  s.address = cfg.membership.address.empty() ? cfg.node_id : cfg.membership.address;
  s.version = baton::version;
  s.heartbeat = cfg.membership.heartbeat;
  s.ttl = cfg.membership.ttl;
  d.members = std::make_unique<membership::membership_service>(d.io, *d.pool, s);
  d.members->use_actors(*d.system, d.link_actor);
  d.actors.push_back(d.members->heartbeat().address());
  d.ctx->members = d.members.get();
}

void build_breakers(daemon_parts& d) {
  const auto& cfg = d.cfg;
  breaker::breaker_settings s;
  s.prefix = cfg.prefix;
  s.node_id = cfg.node_id;
  s.config = cfg.breakers;
  d.breakers = std::make_unique<breaker::breaker_service>(*d.pool, std::move(s));
  d.breakers->use_fleet(*d.system, d.link_actor, d.io, breaker::fleet_settings{});
  d.actors.push_back(d.breakers->fleet_address());
  d.breakers->listen(*d.events);
  d.ctx->breakers = d.breakers.get();
  connect_breaker_pushes(*d.ctx);
  auto* members = d.members.get();
  d.breakers->count_hosts_with(
      d.io,
      [members](std::function<void(int)> answer) {
        members->list("",
                      [answer](bool ok, std::vector<membership::node_record> nodes, std::string) {
                        if (ok) answer(static_cast<int>(nodes.size()));
                      });
      },
      cfg.membership.heartbeat * 5);
}

// Secrets and sessions exist only where KEKs are configured: sessions seal their state with
// the same envelope and sign resume tokens with a key derived from the KEK.
bool build_secrets_and_sessions(daemon_parts& d) {
  const auto& cfg = d.cfg;
  if (!cfg.secrets.enabled()) return true;
  std::vector<std::string> problems;
  if (!secret::load_keyring(cfg.secrets, *d.keys, problems)) {
    for (const auto& p : problems)
      log::error("secrets", p);
    return false;
  }
  // Plaintext and KEKs live in this process' memory: keep them out of core dumps (and away
  // from ptrace by other users), as ssh-agent does.
  if (!cfg.secrets.allow_core_dumps && prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0)
    log::warn("secrets", "could not make batond non-dumpable; core dumps may hold secrets");
  d.secrets = std::make_unique<secret::secret_service>(
      d.io, *d.pool, *d.keys,
      secret::secret_service_settings{cfg.prefix, cfg.node_id, d.run_id, cfg.secrets,
                                      d.link.uses_cluster()});
  auto hooks = secret::spawn_hook_runner(*d.system);
  d.actors.push_back(hooks.address());
  d.secrets->use_actors(*d.system, d.link_actor, hooks, d.keys);
  d.actors.push_back(d.secrets->cache_address());
  d.ctx->secrets = d.secrets.get();
  connect_secret_pushes(*d.ctx);

  session::session_settings s;
  s.prefix = cfg.prefix;
  s.node_id = cfg.node_id;
  s.run_id = d.run_id;
  s.handoff_deadline = cfg.sessions.handoff_deadline;
  s.drain_delay = cfg.sessions.drain_delay;
  s.round_robin = cfg.sessions.handoff_strategy == "round_robin";
  s.membership_ttl = cfg.membership.ttl;
  s.sharded_watch = d.link.uses_cluster();
  s.max_per_user = cfg.sessions.max_per_user;
  s.max_per_node = cfg.sessions.max_per_node;
  d.sessions = std::make_unique<session::session_service>(d.io, *d.pool, *d.keys, *d.members, s);
  d.sessions->use_actors(*d.system, d.link_actor, d.members->heartbeat());
  d.ctx->sessions = d.sessions.get();
  connect_session_pushes(*d.ctx);
  auto* sessions = d.sessions.get();
  d.members->on_event([sessions](const membership::node_event& e) {
    if (e.what == "leave" && e.how == "expired") sessions->adopt(e.node);
  });
  return true;
}

// The Redis health sampler: its samples are posted to the reactor, where /metrics, INFO, the
// fleet page and batonctl read the last one.
void build_redis_health(daemon_parts& d) {
  if (d.cfg.redis.health_interval.count() == 0) return;
  redis_health::sampler_settings s;
  s.period = d.cfg.redis.health_interval;
  s.call_timeout = d.cfg.redis.call_timeout;
  s.each_primary = d.link.uses_cluster();
  s.publish = [&io = d.io, ctx = d.ctx.get()](redis_health::health_sample sample) {
    boost::asio::post(io, [ctx, sample = std::move(sample)]() mutable {
      ctx->redis_health = std::make_shared<const redis_health::health_sample>(std::move(sample));
    });
  };
  d.health = redis_health::spawn_redis_health(*d.system, d.link_actor, std::move(s));
  d.actors.push_back(d.health.address());
}

} // namespace

void daemon_parts::stop_actors() {
  for (auto& a : actors)
    if (auto strong = caf::actor_cast<caf::actor>(a))
      caf::anon_send_exit(strong, caf::exit_reason::user_shutdown);
  if (link_actor) caf::anon_send_exit(link_actor, caf::exit_reason::user_shutdown);
}

std::unique_ptr<daemon_parts> build_daemon(config cfg) {
  auto d = std::make_unique<daemon_parts>();
  d->cfg = std::move(cfg);
  std::string error;
  if (!make_link_settings(d->cfg, d->link, error)) {
    log::error("config", error);
    return nullptr;
  }
  d->run_id = random_run_id();
  d->requests = std::make_unique<metrics::request_metrics>(family_labels());
  try {
    d->pool = std::make_unique<redis_link::redis_pool>(d->io, d->link, d->counters);
  } catch (const std::exception& e) {
    log::error("redis", std::string("cannot set up the redis link: ") + e.what());
    return nullptr;
  }
  d->ctx = std::make_unique<daemon_context>(d->io, d->cfg, *d->pool, d->counters, *d->requests);
  d->ctx->pushes.set_max_watches_per_uid(d->cfg.socket.max_watches_per_uid);
  build_actor_system(*d);
  d->events = std::make_shared<redis_link::redis_subscriber>(d->io, d->link);
  d->shard_events =
      std::make_unique<redis_link::shard_channels>(d->io, d->link, *d->pool, *d->events);
  build_leases(*d);
  if (d->link.uses_sentinel()) {
    d->sentinels = std::make_shared<redis_link::sentinel_locator>(d->io, d->link, d->counters);
    d->sentinels->on_master([pool = d->pool.get(), events = d->events,
                             leases = d->leases.get()](const redis_link::redis_endpoint& master) {
      pool->retarget(master);
      events->retarget(master);
      leases->master_moved();
    });
    d->sentinels->on_hold([pool = d->pool.get()](bool held) { pool->hold(held); });
    d->pool->on_master_doubt(
        [locator = d->sentinels.get()](const std::string& why) { locator->refresh(why); });
  }
  if (d->link.uses_cluster()) {
    // Classic pub/sub reaches every node of a Cluster. Every daemon subscribes on the node that
    // serves the lease events channel's slot, where PUBSUB NUMSUB is routed too, so that it
    // counts the whole fleet (rate limits divide by it). A primary that left the map was
    // failed over, which may have lost a grant: the lease keeper renews every kept lease at
    // once. (Slots that only moved lost nothing: MIGRATE moves each key whole.) Channels of
    // one slot (sharded pub/sub) follow their slots.
    d->pool->on_map_change([pool = d->pool.get(), events = d->events, leases = d->leases.get(),
                            shards = d->shard_events.get(),
                            home = lease::events_channel(d->cfg.prefix)](bool primary_left) {
      if (auto node = pool->endpoint_for(home)) events->retarget(*node);
      shards->map_changed();
      if (primary_left) leases->master_moved();
    });
  }
  build_rates_and_dedup(*d);
  build_membership(*d);
  build_breakers(*d);
  build_redis_health(*d);
  if (!build_secrets_and_sessions(*d)) {
    d->stop_actors();
    return nullptr;
  }
  build_state(*d);
  d->server = std::make_unique<socket_server>(*d->ctx);
  d->http = std::make_unique<http_server>(*d->ctx);
  return d;
}

bool start_daemon(daemon_parts& d) {
  try {
    d.server->start();
    if (d.cfg.http.enabled) d.http->start();
  } catch (const std::exception& e) {
    log::error("daemon", e.what());
    return false;
  }
  d.members->start(*d.events);
  if (d.secrets) d.secrets->start(*d.events);
  if (d.sessions) d.sessions->start(*d.events);
  d.pool->start();
  d.events->start();
  d.shard_events->start();
  if (d.sentinels) d.sentinels->start(); // the pool and events wait for its first answer
  return true;
}

} // namespace baton
