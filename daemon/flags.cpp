// Command-line flags; see flags.hpp.
#include "daemon/flags.hpp"

namespace baton {

std::string usage() {
  return "usage: batond [flags]\n"
         "\n"
         "The per-host coordination daemon of baton: apps call it over a Unix socket (RESP),\n"
         "daemons coordinate through Redis.\n"
         "\n"
         "flags:\n"
         "  --config FILE        YAML config (see deploy/baton.example.yaml); default: none,\n"
         "                       which means safe defaults and Redis on 127.0.0.1:6379\n"
         "  --check-config FILE  validate FILE, print every problem as file:line:column, exit\n"
         "  --socket PATH        Unix socket of the local API (socket.path)\n"
         "  --http ADDR:PORT     HTTP endpoint for /metrics, /healthz, /readyz, or 'off'\n"
         "  --redis URL          redis://host:port/db, rediss://... (TLS), unix:///path,\n"
         "                       redis-sentinel://host:port,host:port/master_name\n"
         "  --node-id ID         this node's id in the fleet (default: hostname)\n"
         "  --prefix P           prefix of every Redis key (default: baton)\n"
         "  --state-dir DIR      what is kept across restarts (default: /var/lib/baton; '' none)\n"
         "  --log-level LEVEL    debug, info, warning or error\n"
         "  --version            print the version and exit\n"
         "  --help               print this text and exit\n"
         "\n"
         "signals: SIGTERM/SIGINT stop cleanly; SIGHUP reloads the config file.\n"
         "exit codes: 0 clean stop, 1 bad config or start-up failure, 2 bad flags.\n";
}

bool parse_flags(int argc, char** argv, flags& out, std::string& error) {
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    std::string value;
    bool has_inline = false;
    if (auto eq = arg.find('='); arg.rfind("--", 0) == 0 && eq != std::string::npos) {
      value = arg.substr(eq + 1);
      arg = arg.substr(0, eq);
      has_inline = true;
    }
    auto take = [&](std::string& target) {
      if (has_inline) {
        target = value;
        return true;
      }
      if (i + 1 >= argc) {
        error = arg + " needs a value";
        return false;
      }
      target = argv[++i];
      return true;
    };
    auto take_opt = [&](std::optional<std::string>& target) {
      std::string v;
      if (!take(v)) return false;
      target = v;
      return true;
    };
    bool ok = true;
    if (arg == "--help" || arg == "-h")
      out.help = true;
    else if (arg == "--version")
      out.version = true;
    else if (arg == "--config")
      ok = take(out.config_file);
    else if (arg == "--check-config")
      ok = take(out.check_config_file);
    else if (arg == "--socket")
      ok = take_opt(out.socket);
    else if (arg == "--http")
      ok = take_opt(out.http);
    else if (arg == "--redis")
      ok = take_opt(out.redis);
    else if (arg == "--node-id")
      ok = take_opt(out.node_id);
    else if (arg == "--prefix")
      ok = take_opt(out.prefix);
    else if (arg == "--state-dir")
      ok = take_opt(out.state_dir);
    else if (arg == "--log-level")
      ok = take_opt(out.log_level);
    else {
      error = "unknown flag '" + arg + "' (see batond --help)";
      return false;
    }
    if (!ok) return false;
  }
  return true;
}

void apply_flags(const flags& f, config& cfg) {
  if (f.socket) cfg.socket.path = *f.socket;
  if (f.http) {
    cfg.http.enabled = *f.http != "off";
    if (cfg.http.enabled) cfg.http.listen = *f.http;
  }
  if (f.redis) cfg.redis.url = *f.redis;
  if (f.node_id) cfg.node_id = *f.node_id;
  if (f.prefix) cfg.prefix = *f.prefix;
  if (f.state_dir) cfg.state_dir = *f.state_dir;
  if (f.log_level) log::parse_level(*f.log_level, cfg.log.level);
}

} // namespace baton
