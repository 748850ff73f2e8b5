// batond: reads flags and config, wires the Redis link, the local API socket and the HTTP
// endpoint onto one Asio event loop (this thread), starts the CAF actor system for the
// actors, and runs until SIGTERM/SIGINT. SIGHUP reloads the config.
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/signal_set.hpp>
#include <caf/all.hpp>

#include <sys/prctl.h>

#include <csignal>
#include <cstdio>
#include <iostream>
#include <random>

#include "services/dedup/dedup_service.hpp"
#include "actors/lease_keeper/lease_keeper.hpp"
#include "actors/secret_rotation/hook_runner.hpp"
#include "model/lease/lease_keys.hpp"
#include "services/lease/lease_service.hpp"
#include "services/lease/lease_watch.hpp"
#include "services/membership/membership_service.hpp"
#include "services/rate/rate_service.hpp"
#include "actors/redis_link/redis_link_actor.hpp"
#include "model/secret/kek_loader.hpp"
#include "services/secret/secret_service.hpp"
#include "services/session/session_service.hpp"
#include "build_info.hpp"
#include "common/chaos_bugs.hpp"
#include "common/log.hpp"
#include "daemon/config_loader.hpp"
#include "daemon/config_reload.hpp"
#include "daemon/flags.hpp"
#include "daemon/http_server.hpp"
#include "services/secret/secret_commands.hpp"
#include "daemon/service_notifier.hpp"
#include "services/session/session_commands.hpp"
#include "daemon/socket_server.hpp"
#include "daemon/watch_commands.hpp"
#include "protocol/command_table.hpp"

namespace {

using namespace baton;

int check_config(const std::string& path) {
  auto result = load_config_file(path);
  for (const auto& p : result.problems)
    std::cerr << p << "\n";
  if (!result.ok()) return 1;
  std::cout << path << ": ok\n";
  return 0;
}

// Loads the file (if any), applies flags and validates; prints problems and returns false.
bool load(const flags& f, config& out) {
  config_result result;
  if (!f.config_file.empty()) result = load_config_file(f.config_file);
  if (result.ok()) {
    apply_flags(f, result.cfg);
    validate_config(result.cfg, result.problems);
  }
  for (const auto& p : result.problems)
    log::error("config", p);
  if (!result.ok()) return false;
  out = std::move(result.cfg);
  return true;
}

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

int run(const flags& f) {
  config cfg;
  if (!load(f, cfg)) return 1;
  log::set_level(cfg.log.level);
  log::set_format(cfg.log.format);

  for (const auto& bug : chaos_bugs::enabled())
    log::warn("daemon", "a deliberate bug is on (BATON_CHAOS_BUGS): for the chaos harness only",
              {{"bug", bug}});

  redis_link::link_settings link;
  std::string error;
  if (!make_link_settings(cfg, link, error)) {
    log::error("config", error);
    return 1;
  }

  boost::asio::io_context io(1);
  redis_link::link_counters counters;
  metrics::request_metrics requests(family_labels());
  std::unique_ptr<redis_link::redis_pool> pool;
  try {
    pool = std::make_unique<redis_link::redis_pool>(io, link, counters);
  } catch (const std::exception& e) {
    log::error("redis", std::string("cannot set up the redis link: ") + e.what());
    return 1;
  }
  daemon_context ctx(io, cfg, *pool, counters, requests);
  // The actors (actors/README.md): what lives across time, on CAF's threads.
  caf::actor_system_config actor_config;
  actor_config.set("scheduler.policy", cfg.runtime.scheduler == "sharing" ? caf::atom("sharing")
                                                                          : caf::atom("stealing"));
  actor_config.set("scheduler.max-threads", cfg.runtime.worker_threads);
  caf::actor_system system(actor_config);
  auto link_actor = redis_link::spawn_redis_link_actor(system, *pool, io);
  std::vector<caf::actor_addr> actors_to_stop;
  auto stop_actors = [&] {
    for (auto& a : actors_to_stop)
      if (auto strong = caf::actor_cast<caf::actor>(a))
        caf::anon_send_exit(strong, caf::exit_reason::user_shutdown);
    caf::anon_send_exit(link_actor, caf::exit_reason::user_shutdown);
  };
  lease::lease_settings lease_settings;
  lease_settings.prefix = cfg.prefix;
  lease_settings.node_id = cfg.node_id;
  const auto run_id = random_run_id();
  lease_settings.run_id = run_id;
  lease_settings.drift_margin = cfg.runtime.drift_margin;
  lease_settings.lock_delay = cfg.leases.lock_delay;
  lease_settings.max_name_length = cfg.leases.max_name_length;
  lease_settings.min_ttl = cfg.leases.min_ttl;
  lease_settings.max_ttl = cfg.leases.max_ttl;
  lease::lease_service leases(io, *pool, lease_settings);
  ctx.leases = &leases;
  auto keeper = lease::spawn_lease_keeper(
      system, link_actor,
      {cfg.prefix, cfg.runtime.drift_margin, [&io, &leases](lease::keeper_news news) {
         boost::asio::post(io, [&leases, news = std::move(news)] { leases.on_keeper_news(news); });
       }});
  actors_to_stop.push_back(keeper.address());
  leases.use_keeper(keeper);
  ctx.on_client_closed.push_back([&leases](std::uint64_t id) { leases.connection_closed(id); });
  auto events = std::make_shared<redis_link::redis_subscriber>(io, link);
  leases.listen(*events);
  lease::lease_watch lease_watch(io, *pool, *events, cfg.prefix);
  ctx.lease_watch = &lease_watch;
  connect_lease_pushes(ctx);
  rate::rate_settings rate_settings;
  rate_settings.prefix = cfg.prefix;
  rate_settings.policies = cfg.rate.policies;
  rate_settings.budget = cfg.rate.budget;
  rate_settings.nodes_channel = lease::events_channel(cfg.prefix); // every daemon listens there
  rate::rate_service rates(*pool, rate_settings);
  rates.listen(*events);
  ctx.rates = &rates;
  dedup::dedup_service dedup(*pool, {cfg.prefix, cfg.node_id, run_id});
  ctx.dedup = &dedup;
  ctx.on_client_closed.push_back([&dedup](std::uint64_t id) { dedup.connection_closed(id); });
  membership::membership_settings member_settings;
  member_settings.prefix = cfg.prefix;
  member_settings.node_id = cfg.node_id;
  member_settings.run_id = run_id;
  member_settings.address = cfg.membership.address.empty() ? cfg.node_id : cfg.membership.address;
  member_settings.version = baton::version;
  member_settings.heartbeat = cfg.membership.heartbeat;
  member_settings.ttl = cfg.membership.ttl;
  membership::membership_service members(io, *pool, member_settings);
  members.use_actors(system, link_actor);
  actors_to_stop.push_back(members.heartbeat().address());
  ctx.members = &members;
  std::unique_ptr<secret::secret_service> secrets;
  std::unique_ptr<session::session_service> sessions;
  // Shared with the rotation actors, which may still hold it while the services go.
  auto keys = std::make_shared<secret::keyring>();
  if (cfg.secrets.enabled()) {
    std::vector<std::string> problems;
    if (!secret::load_keyring(cfg.secrets, *keys, problems)) {
      for (const auto& p : problems)
        log::error("secrets", p);
      stop_actors();
      return 1;
    }
    // Plaintext and KEKs live in this process' memory: keep them out of core dumps (and
    // away from ptrace by other users), as ssh-agent does.
    if (!cfg.secrets.allow_core_dumps && prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0)
      log::warn("secrets", "could not make batond non-dumpable; core dumps may hold secrets");
    secrets = std::make_unique<secret::secret_service>(
        io, *pool, *keys,
        secret::secret_service_settings{cfg.prefix, cfg.node_id, run_id, cfg.secrets});
    auto hooks = secret::spawn_hook_runner(system);
    actors_to_stop.push_back(hooks.address());
    secrets->use_actors(system, link_actor, hooks, keys);
    ctx.secrets = secrets.get();
    connect_secret_pushes(ctx);
    // Sessions seal their state with the same envelope and sign resume tokens with a key
    // derived from the KEK, so they exist only where KEKs are configured.
    session::session_settings session_settings;
    session_settings.prefix = cfg.prefix;
    session_settings.node_id = cfg.node_id;
    session_settings.run_id = run_id;
    session_settings.handoff_deadline = cfg.sessions.handoff_deadline;
    session_settings.drain_delay = cfg.sessions.drain_delay;
    session_settings.round_robin = cfg.sessions.handoff_strategy == "round_robin";
    session_settings.membership_ttl = cfg.membership.ttl;
    sessions =
        std::make_unique<session::session_service>(io, *pool, *keys, members, session_settings);
    sessions->use_actors(system, link_actor, members.heartbeat());
    ctx.sessions = sessions.get();
    connect_session_pushes(ctx);
    members.on_event([&sessions](const membership::node_event& e) {
      if (e.what == "leave" && e.how == "expired") sessions->adopt(e.node);
    });
  }


  socket_server server(ctx);
  http_server http(ctx);
  try {
    server.start();
    if (cfg.http.enabled) http.start();
  } catch (const std::exception& e) {
    log::error("daemon", e.what());
    stop_actors();
    return 1;
  }
  members.start(*events);
  if (secrets) secrets->start(*events);
  if (sessions) sessions->start(*events);
  pool->start();
  events->start();

  service_notifier notifier(io);
  boost::asio::signal_set stop_signals(io, SIGTERM, SIGINT);
  boost::asio::signal_set reload_signal(io, SIGHUP);
  std::function<void()> shut_down = [&] {
    leases.stopping(); // the connections closed next keep their leases to their promised end
    dedup.stopping();  // ... and their claims to their TTL
    server.stop();
    http.stop();
    reload_signal.cancel();
    if (secrets) secrets->stop();   // writes the audit records still batched
    if (sessions) sessions->stop(); // ends adoptions still running
    // Retire leases before the link goes: each ends when its holder was promised, without
    // lock-delay, so others need not wait for whole TTLs.
    events->stop();
    leases.retire_all([&] {
      // Leave the fleet at once rather than after the heartbeat TTL.
      members.leave([&] {
        pool->stop();
        io.stop();
      });
    });
  };
  stop_signals.async_wait([&](const boost::system::error_code& ec, int signal) {
    if (ec) return;
    log::info("daemon", "stopping", {{"signal", signal == SIGTERM ? "SIGTERM" : "SIGINT"}});
    notifier.stopping();
    // Not ready at once (/readyz 503), so load balancers stop sending traffic; then the
    // sessions this node owns move to active nodes while its apps are still connected to
    // hear handoff-out, and only then does the daemon close its sockets.
    ctx.draining = true;
    if (!sessions || sessions->owned() == 0) return shut_down();
    sessions->drain([](bool) {}, [&](session::handoff_report r) {
        // From the drain's start to each session resumed on its new owner.
        std::sort(r.resume_ms.begin(), r.resume_ms.end());
        auto at = [&](double p) {
          if (r.resume_ms.empty()) return std::string("-");
          auto i =
              std::min(r.resume_ms.size() - 1, static_cast<std::size_t>(p * r.resume_ms.size()));
          return std::to_string(static_cast<long>(r.resume_ms[i]));
        };
        log::info("session", "drained",
                  {{"sessions", std::to_string(r.owned)},
                   {"handoff_p50_ms", at(0.5)},
                   {"handoff_p99_ms", at(0.99)},
                   {"moved", std::to_string(r.moved)},
                   {"resumed", std::to_string(r.resumed)},
                   {"failed", std::to_string(r.failed)},
                   {"stayed", std::to_string(r.stayed)},
                   {"took_ms", std::to_string(r.took.count())}});
        shut_down();
      });
  });
  std::function<void()> wait_for_reload = [&] {
    reload_signal.async_wait([&](const boost::system::error_code& ec, int) {
      if (ec) return;
      if (f.config_file.empty()) {
        log::info("daemon", "SIGHUP: no config file to reload");
      } else {
        config next;
        if (!load(f, next)) {
          log::error("daemon", "SIGHUP: config has problems; keeping the running config");
        } else {
          auto restart = apply_reload(ctx, next);
          log::info("daemon", "SIGHUP: reloaded log, access rules and redis call budget");
          for (const auto& key : restart)
            log::warn("daemon", "SIGHUP: changed but needs a restart to take effect",
                      {{"key", key}});
        }
      }
      wait_for_reload();
    });
  };
  wait_for_reload();

  notifier.ready("serving on " + cfg.socket.path);
  log::info("daemon", "started",
            {{"version", baton::version},
             {"node", cfg.node_id},
             {"socket", cfg.socket.path},
             {"redis", link.endpoint.describe()},
             {"config", cfg.source}});
  io.run();
  // Run what closing left behind (aborted reads and writes), so that every client connection
  // is gone while the state it points at still exists.
  io.restart();
  io.poll();

  secret::kill_running_hooks();
  stop_actors();
  log::info("daemon", "stopped");
  return 0;
}

} // namespace

int main(int argc, char** argv) {
  std::signal(SIGPIPE, SIG_IGN);
  baton::flags f;
  std::string error;
  if (!baton::parse_flags(argc, argv, f, error)) {
    std::cerr << "batond: " << error << "\n";
    return 2;
  }
  if (f.help) {
    std::cout << baton::usage();
    return 0;
  }
  if (f.version) {
    std::cout << "batond " << baton::version << "\n";
    return 0;
  }
  if (baton::log::level ignored; f.log_level && !baton::log::parse_level(*f.log_level, ignored)) {
    std::cerr << "batond: --log-level must be debug, info, warning or error\n";
    return 2;
  }
  if (!f.check_config_file.empty()) return check_config(f.check_config_file);
  return run(f);
}
