// batond: reads flags and config, builds the daemon (daemon_parts: the Redis link, the actors,
// the services, the local API socket and HTTP, on one Asio event loop on this thread), and runs
// it until SIGTERM/SIGINT (daemon_lifecycle: drain, then stop); SIGHUP reloads the config.
#include <csignal>
#include <iostream>
#include <thread>

#include "actors/secret_rotation/hook_process.hpp"
#include "build_info.hpp"
#include "common/chaos_bugs.hpp"
#include "common/log.hpp"
#include "daemon/config_loader.hpp"
#include "daemon/daemon_lifecycle.hpp"
#include "daemon/daemon_parts.hpp"
#include "daemon/flags.hpp"

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

int run(const flags& f) {
  config cfg;
  if (!load_config(f, cfg)) return 1;
  log::set_level(cfg.log.level);
  log::set_format(cfg.log.format);
  for (const auto& bug : chaos_bugs::enabled())
    log::warn("daemon", "a deliberate bug is on (BATON_CHAOS_BUGS): for the chaos harness only",
              {{"bug", bug}});

  auto parts = build_daemon(std::move(cfg));
  if (!parts) return 1;
  if (!start_daemon(*parts)) {
    parts->stop_actors();
    return 1;
  }
  daemon_lifecycle life(*parts, f);
  life.serve();
  parts->io.run();
  // Run what closing left behind (aborted reads and writes), so that every client connection
  // is gone while the state it points at still exists.
  parts->io.restart();
  parts->io.poll();

  secret::kill_running_hooks();
  parts->stop_actors();
  log::info("daemon", "stopped");
  // The actor system's end waits for every actor. One found still waiting after a stop with
  // Redis paused (chaos: drain-redis-paused, seed 31) kept a stopped daemon alive; until that
  // actor is found, a stopped daemon does not wait for its actors longer than this.
  std::thread([] {
    std::this_thread::sleep_for(std::chrono::seconds(10));
    log::error("daemon", "actors still running 10 s after the stop; exiting without them");
    std::_Exit(0);
  }).detach();
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
