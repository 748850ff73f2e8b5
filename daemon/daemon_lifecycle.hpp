// A built batond's life after start: SIGTERM or SIGINT drains (not ready at once, sessions
// handed to active nodes while their apps are still connected) and then stops in an order that
// keeps every promise made (leases retired at their promised end, claims kept, audit records
// written, the fleet left at once); SIGHUP reloads the config. Runs on the reactor.
#pragma once

#include <boost/asio/signal_set.hpp>

#include "daemon/daemon_parts.hpp"
#include "daemon/flags.hpp"
#include "daemon/service_notifier.hpp"

namespace baton {

/// Loads the file (if any), applies flags and validates; logs problems and returns false.
bool load_config(const flags& f, config& out);

class daemon_lifecycle {
public:
  daemon_lifecycle(daemon_parts& parts, const flags& f);

  /// Arms the signals and tells systemd the daemon is ready.
  void serve();

private:
  void on_stop_signal(int signal);
  /// Hands the sessions to active nodes (if it owns any), then shuts down.
  void drain_then_stop();
  /// Stops serving and gives up what this daemon holds, then stops the reactor.
  void shut_down();
  void wait_for_reload();
  void reload();

  daemon_parts& d_;
  const flags& flags_;
  service_notifier notifier_;
  boost::asio::signal_set stop_signals_;
  boost::asio::signal_set reload_signal_;
};

} // namespace baton
