// Draining, stopping and reloading; see daemon_lifecycle.hpp.
#include "daemon/daemon_lifecycle.hpp"

#include <algorithm>
#include <csignal>

#include "build_info.hpp"
#include "common/log.hpp"
#include "daemon/config_loader.hpp"
#include "daemon/config_reload.hpp"

namespace baton {
namespace {

// The drain's report in the log: from its first move to each session resumed on its new owner.
void log_drain(session::handoff_report r) {
  std::sort(r.resume_ms.begin(), r.resume_ms.end());
  auto at = [&](double p) {
    if (r.resume_ms.empty()) return std::string("-");
    auto i = std::min(r.resume_ms.size() - 1, static_cast<std::size_t>(p * r.resume_ms.size()));
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
}

} // namespace

bool load_config(const flags& f, config& out) {
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

daemon_lifecycle::daemon_lifecycle(daemon_parts& parts, const flags& f)
    : d_(parts), flags_(f), notifier_(parts.io), stop_signals_(parts.io, SIGTERM, SIGINT),
      reload_signal_(parts.io, SIGHUP) {}

void daemon_lifecycle::serve() {
  stop_signals_.async_wait([this](const boost::system::error_code& ec, int signal) {
    if (!ec) on_stop_signal(signal);
  });
  wait_for_reload();
  notifier_.ready("serving on " + d_.cfg.socket.path);
  log::info("daemon", "started",
            {{"version", baton::version},
             {"node", d_.cfg.node_id},
             {"socket", d_.cfg.socket.path},
             {"redis", d_.link.describe()},
             {"config", d_.cfg.source}});
}

void daemon_lifecycle::on_stop_signal(int signal) {
  log::info("daemon", "stopping", {{"signal", signal == SIGTERM ? "SIGTERM" : "SIGINT"}});
  notifier_.stopping();
  drain_then_stop();
}

void daemon_lifecycle::drain_then_stop() {
  // Not ready at once (/readyz 503), so load balancers stop sending traffic; then the sessions
  // this node owns move to active nodes while its apps are still connected to hear
  // handoff-out, and only then does the daemon close its sockets.
  d_.ctx->draining = true;
  if (!d_.sessions || d_.sessions->owned() == 0) return shut_down();
  d_.sessions->drain([](bool) {},
                     [this](session::handoff_report r) {
                       log_drain(std::move(r));
                       shut_down();
                     });
}

void daemon_lifecycle::shut_down() {
  d_.leases->stopping(); // the connections closed next keep their leases to their promised end
  d_.dedup->stopping();  // ... and their claims to their TTL
  d_.topics->stopping(); // blocked reads answer what they have
  d_.server->stop();
  d_.http->stop();
  reload_signal_.cancel();
  if (d_.breakers) d_.breakers->stop();
  if (d_.secrets) d_.secrets->stop();   // writes the audit records still batched
  if (d_.sessions) d_.sessions->stop(); // ends adoptions still running
  // Retire leases before the link goes: each ends when its holder was promised, without
  // lock-delay, so others need not wait for whole TTLs.
  d_.events->stop();
  d_.shard_events->stop();
  d_.leases->retire_all([this] {
    // Leave the fleet at once rather than after the heartbeat TTL.
    d_.members->leave([this] {
      d_.pool->stop();
      if (d_.sentinels) d_.sentinels->stop();
      d_.io.stop();
    });
  });
}

void daemon_lifecycle::wait_for_reload() {
  reload_signal_.async_wait([this](const boost::system::error_code& ec, int) {
    if (ec) return;
    reload();
    wait_for_reload();
  });
}

void daemon_lifecycle::reload() {
  if (flags_.config_file.empty()) return log::info("daemon", "SIGHUP: no config file to reload");
  config next;
  if (!load_config(flags_, next))
    return log::error("daemon", "SIGHUP: config has problems; keeping the running config");
  auto restart = apply_reload(*d_.ctx, next);
  log::info("daemon", "SIGHUP: reloaded log, access rules and redis call budget");
  for (const auto& key : restart)
    log::warn("daemon", "SIGHUP: changed but needs a restart to take effect", {{"key", key}});
}

} // namespace baton
