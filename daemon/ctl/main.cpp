// batonctl: the operator's tool. Talks RESP to the local batond socket; human output by
// default, --json for scripts. Exit codes scripts can rely on:
//   0 ok   1 batond answered with an error, or is not ready (status)
//   2 usage error   3 batond unreachable (no socket, refused, timed out)
#include <nlohmann/json.hpp>

#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <map>
#include <sstream>

#include "protocol/resp_client.hpp"

namespace {

using baton::protocol::resp_client;
using baton::protocol::resp_value;
using json = nlohmann::json;

constexpr int exit_ok = 0, exit_error = 1, exit_usage = 2, exit_unreachable = 3;

const char* usage_text =
    "usage: batonctl [--socket PATH] [--json] [--timeout MS] COMMAND\n"
    "\n"
    "commands:\n"
    "  status         is batond up and ready? node, version, uptime, Redis link\n"
    "  ping           round trip to batond\n"
    "  info [SECTION] batond's INFO (server, clients, redis, stats)\n"
    "  nodes          the live daemons of the fleet: address, version, state, sessions\n"
    "  drain [--wait] mark this daemon draining (/readyz 503 at once; needs an admin group)\n"
    "  secret rewrap [NAME]  re-wrap the data keys of every secret (or NAME) under the\n"
    "                 active KEK, without downtime (needs an admin group)\n"
    "  secret info NAME      versions, states, uses and nodes of a secret (never values)\n"
    "\n"
    "--socket defaults to $BATON_SOCKET, else /run/baton/baton.sock.\n"
    "exit codes: 0 ok, 1 error reply or not ready, 2 usage, 3 batond unreachable\n";

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

json value_to_json(const resp_value& v) {
  using t = resp_value::type;
  switch (v.kind) {
  case t::integer:
    return v.integer;
  case t::boolean:
    return v.integer != 0;
  case t::null:
    return nullptr;
  case t::error:
    return json{{"error", v.str}};
  case t::array:
  case t::set:
  case t::push: {
    json out = json::array();
    for (const auto& e : v.elements)
      out.push_back(value_to_json(e));
    return out;
  }
  case t::map: {
    json out = json::object();
    for (std::size_t i = 0; i + 1 < v.elements.size(); i += 2)
      out[v.elements[i].str] = value_to_json(v.elements[i + 1]);
    return out;
  }
  default:
    return v.str;
  }
}

// Sends a command over RESP3 (maps come as maps) and converts the reply; an error reply is
// printed (as JSON with --json) and answers false.
bool call_for_json(resp_client& client, const std::vector<std::string>& args, bool as_json,
                   json& out) {
  client.call({"HELLO", "3"});
  auto reply = client.call(args);
  if (reply.is_error()) {
    if (as_json)
      std::cout << json{{"ok", false}, {"error", reply.str}}.dump() << "\n";
    else
      std::cerr << "batonctl: " << reply.str << "\n";
    return false;
  }
  out = value_to_json(reply);
  return true;
}

// `batonctl secret rewrap [NAME]` and `batonctl secret info NAME`.
int run_secret(resp_client& client, bool as_json, const std::vector<std::string>& command) {
  const std::string sub = command.size() > 1 ? command[1] : "";
  std::vector<std::string> args;
  if (sub == "rewrap" && command.size() <= 3)
    args = {"SECRET", "REWRAP"};
  else if (sub == "info" && command.size() == 3)
    args = {"SECRET", "INFO"};
  else {
    std::cerr << "batonctl: secret rewrap [NAME] | secret info NAME\n" << usage_text;
    return exit_usage;
  }
  if (command.size() == 3) args.push_back(command[2]);
  json out;
  if (!call_for_json(client, args, as_json, out)) return exit_error;
  if (as_json) {
    std::cout << out.dump(2) << "\n";
  } else if (sub == "rewrap") {
    std::cout << "rewrapped " << out.value("rewrapped", 0) << " data keys; "
              << out.value("already", 0) << " already under the active KEK; "
              << out.value("failed", 0) << " failed\n";
  } else if (out.is_null()) {
    std::cout << "no such secret\n";
  } else {
    std::cout << "secret " << out["name"].get<std::string>() << ": current v" << out["current"]
              << (out["pending"] != 0 ? ", pending v" + out["pending"].dump() : "") << ", epoch "
              << out["epoch"] << "\n";
    for (const auto& v : out["versions"])
      std::cout << "  v" << v["version"] << "  " << v["state"].get<std::string>() << "  kek "
                << v["kek"].get<std::string>() << "  uses " << v["uses"] << "\n";
    for (const auto& n : out["nodes"])
      std::cout << "  node " << n["node"].get<std::string>() << " serves v" << n["version"]
                << " (acked " << n["acked_ms_ago"] << " ms ago)\n";
  }
  return sub == "rewrap" && out.value("failed", 0) > 0 ? exit_error : exit_ok;
}

// `batonctl nodes` and `batonctl drain [--wait]`.
int run_node(resp_client& client, bool as_json, const std::vector<std::string>& command) {
  std::vector<std::string> args;
  if (command[0] == "nodes" && command.size() == 1)
    args = {"NODE", "LIST"};
  else if (command[0] == "drain" && command.size() == 1)
    args = {"NODE", "DRAIN"};
  else if (command[0] == "drain" && command.size() == 2 && command[1] == "--wait")
    args = {"NODE", "DRAIN", "WAIT"};
  else {
    std::cerr << "batonctl: nodes | drain [--wait]\n" << usage_text;
    return exit_usage;
  }
  json out;
  if (!call_for_json(client, args, as_json, out)) return exit_error;
  if (as_json) {
    std::cout << out.dump(2) << "\n";
  } else if (command[0] == "drain") {
    std::cout << "node " << out["node"].get<std::string>() << " is draining"
              << (out["announced"] == 1 ? "" : " (not announced yet: redis did not answer)")
              << "\n";
  } else {
    std::printf("%-20s %-24s %-9s %-10s %8s %10s\n", "NODE", "ADDRESS", "VERSION", "STATE",
                "SESSIONS", "HEARTBEAT");
    for (const auto& n : out)
      std::printf("%-20s %-24s %-9s %-10s %8lld %8lldms%s\n", n["id"].get<std::string>().c_str(),
                  n["address"].get<std::string>().c_str(), n["version"].get<std::string>().c_str(),
                  n["state"].get<std::string>().c_str(), n["sessions"].get<long long>(),
                  n["heartbeat_ms_ago"].get<long long>(), n["self"] == 1 ? "  (this one)" : "");
  }
  return exit_ok;
}

int run(const std::string& socket, bool as_json, int timeout_ms,
        const std::vector<std::string>& command) {
  std::unique_ptr<resp_client> client;
  try {
    client = std::make_unique<resp_client>(socket, timeout_ms);
  } catch (const std::exception& e) {
    if (as_json)
      std::cout << json{{"ok", false}, {"error", e.what()}, {"socket", socket}}.dump() << "\n";
    else
      std::cerr << "batonctl: batond unreachable: " << e.what() << "\n";
    return exit_unreachable;
  }
  try {
    const auto& verb = command[0];
    if (verb == "ping") {
      auto reply = client->call({"PING"});
      if (reply.is_error()) {
        std::cerr << "batonctl: " << reply.str << "\n";
        return exit_error;
      }
      std::cout << (as_json ? json{{"ok", true}, {"reply", reply.str}}.dump() : reply.str) << "\n";
      return exit_ok;
    }
    if (verb == "info" || verb == "status") {
      std::vector<std::string> args{"INFO"};
      if (verb == "info" && command.size() > 1) args.push_back(command[1]);
      auto reply = client->call(args);
      if (reply.is_error()) {
        std::cerr << "batonctl: " << reply.str << "\n";
        return exit_error;
      }
      auto fields = parse_info(reply.str);
      if (verb == "info") {
        if (as_json)
          std::cout << json(fields).dump(2) << "\n";
        else
          std::cout << reply.str;
        return exit_ok;
      }
      bool ready = fields["ready"] == "1";
      if (as_json) {
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
    if (verb == "secret") return run_secret(*client, as_json, command);
    if (verb == "nodes" || verb == "drain") return run_node(*client, as_json, command);
    std::cerr << "batonctl: unknown command '" << verb << "'\n" << usage_text;
    return exit_usage;
  } catch (const std::exception& e) {
    std::cerr << "batonctl: " << e.what() << "\n";
    return exit_unreachable;
  }
}

} // namespace

int main(int argc, char** argv) {
  std::string socket =
      std::getenv("BATON_SOCKET") ? std::getenv("BATON_SOCKET") : "/run/baton/baton.sock";
  bool as_json = false;
  int timeout_ms = 5000;
  std::vector<std::string> command;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "--help" || arg == "-h") {
      std::cout << usage_text;
      return exit_ok;
    } else if (arg == "--json") {
      as_json = true;
    } else if (arg == "--socket" && i + 1 < argc) {
      socket = argv[++i];
    } else if (arg == "--timeout" && i + 1 < argc) {
      timeout_ms = std::atoi(argv[++i]);
      if (timeout_ms <= 0) {
        std::cerr << "batonctl: --timeout must be a positive number of milliseconds\n";
        return exit_usage;
      }
    } else if (arg == "--wait" && !command.empty()) {
      command.push_back(arg); // a flag of the command (drain --wait)
    } else if (arg.rfind("--", 0) == 0) {
      std::cerr << "batonctl: unknown flag '" << arg << "'\n" << usage_text;
      return exit_usage;
    } else {
      command.push_back(arg);
    }
  }
  if (command.empty()) {
    std::cerr << usage_text;
    return exit_usage;
  }
  return run(socket, as_json, timeout_ms, command);
}
