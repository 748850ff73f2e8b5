// status, ping and info; see verbs.hpp.
#include <cstdlib>
#include <iostream>
#include <map>
#include <sstream>

#include "daemon/ctl/verbs.hpp"

namespace baton::ctl {
namespace {

std::map<std::string, std::string> parse_info(const std::string& text) {
  std::map<std::string, std::string> fields;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty() || line[0] == '#') continue;
    auto colon = line.find(':');
    if (colon != std::string::npos) fields[line.substr(0, colon)] = line.substr(colon + 1);
  }
  return fields;
}

/// INFO [SECTION] as text; false (printed) on an error reply.
bool info_text(const options& o, const std::string& section, std::string& out) {
  auto client = connect(o);
  std::vector<std::string> args{"INFO"};
  if (!section.empty()) args.push_back(section);
  json reply;
  if (!call(*client, args, o, reply)) return false;
  out = text(reply);
  return true;
}

int run_status(const options& o, const verb_args&) {
  std::string info;
  if (!info_text(o, "", info)) return exit_error;
  auto fields = parse_info(info);
  bool ready = fields["ready"] == "1";
  if (o.as_json) {
    json out = {{"ok", ready},
                {"ready", ready},
                {"node_id", fields["node_id"]},
                {"version", fields["baton_version"]},
                {"uptime_seconds", std::atoll(fields["uptime_in_seconds"].c_str())},
                {"connected_clients", std::atoll(fields["connected_clients"].c_str())},
                {"draining", fields["draining"] == "1"},
                {"redis",
                 {{"endpoint", fields["redis_endpoint"]},
                  {"reachable", fields["redis_reachable"] == "1"},
                  {"connections_ready", std::atoll(fields["redis_connections_ready"].c_str())},
                  {"breaker", fields["redis_breaker"]},
                  {"last_error", fields["redis_last_error"]}}}};
    std::cout << out.dump(2) << "\n";
  } else {
    std::cout << "node      " << fields["node_id"] << " (batond " << fields["baton_version"]
              << ", up " << fields["uptime_in_seconds"] << " s, pid " << fields["process_id"]
              << ")\n"
              << "state     " << (ready ? "ready" : "NOT READY")
              << (fields["draining"] == "1" ? " (draining)" : "") << "\n"
              << "clients   " << fields["connected_clients"] << "\n"
              << "redis     " << fields["redis_endpoint"] << ": "
              << (fields["redis_reachable"] == "1" ? "reachable" : "UNREACHABLE") << ", "
              << fields["redis_connections_ready"] << "/" << fields["redis_connections"]
              << " connections, breaker " << fields["redis_breaker"] << "\n";
    if (fields["redis_last_error"] != "none")
      std::cout << "          last error: " << fields["redis_last_error"] << "\n";
  }
  return ready ? exit_ok : exit_error;
}

int run_info(const options& o, const verb_args& a) {
  std::string info;
  if (!info_text(o, a.positional.empty() ? "" : a.positional[0], info)) return exit_error;
  if (o.as_json)
    std::cout << json(parse_info(info)).dump(2) << "\n";
  else
    std::cout << info;
  return exit_ok;
}

int run_ping(const options& o, const verb_args&) {
  auto client = connect(o);
  json reply;
  if (!call(*client, {"PING"}, o, reply)) return exit_error;
  std::cout << (o.as_json ? json{{"ok", true}, {"reply", reply}}.dump() : text(reply)) << "\n";
  return exit_ok;
}

} // namespace

std::vector<verb_spec> status_verbs() {
  return {
      {{"status"},
       "",
       "is batond up and ready? node, version, uptime, Redis link (exit 1: not ready)",
       0,
       0,
       {},
       false,
       run_status},
      {{"ping"}, "", "a round trip to batond", 0, 0, {}, false, run_ping},
      {{"info"},
       "[SECTION]",
       "batond's INFO (server, clients, redis, stats, ...)",
       0,
       1,
       {},
       false,
       run_info},
  };
}

} // namespace baton::ctl
