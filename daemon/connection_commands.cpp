// Connection commands; see connection_commands.hpp. Replies follow Redis' shapes so that
// redis-cli, redis-py, ioredis and node-redis treat batond like a Redis server.
#include "daemon/connection_commands.hpp"

#include <sys/prctl.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <set>

#include "build_info.hpp"
#include "daemon/redis_health_view.hpp"

namespace baton {
namespace {

using protocol::command_id;
using protocol::command_spec;
using protocol::reply_writer;

bool valid_client_name(const std::string& name) {
  return std::none_of(name.begin(), name.end(), [](char c) { return c <= ' ' || c > '~'; });
}

// HELLO [protover [AUTH user pass] [SETNAME name]]: validates everything before changing
// anything, then answers in the protocol just chosen, as Redis does.
void hello(std::vector<std::string>& args, client_connection& conn, reply_writer& out) {
  int version = conn.protocol();
  std::size_t i = 1;
  if (args.size() > 1) {
    if (args[1] != "2" && args[1] != "3") return out.error("NOPROTO unsupported protocol version");
    version = args[1][0] - '0';
    i = 2;
  }
  std::string new_name = conn.name();
  for (; i < args.size(); ++i) {
    auto option = protocol::to_upper(args[i]);
    if (option == "AUTH" && i + 2 < args.size())
      return out.error("ERR AUTH is not used: batond identifies callers by their Unix credentials");
    if (option == "SETNAME" && i + 1 < args.size()) {
      new_name = args[++i];
      if (!valid_client_name(new_name))
        return out.error("ERR Client names cannot contain spaces, newlines or special characters.");
      continue;
    }
    return out.error("ERR syntax error in HELLO option '" + args[i].substr(0, 64) + "'");
  }
  conn.set_protocol(version);
  conn.set_name(new_name);
  out.set_protocol(version);
  out.map(7);
  out.bulk("server");
  out.bulk("baton");
  out.bulk("version");
  out.bulk(baton::version);
  out.bulk("proto");
  out.integer(version);
  out.bulk("id");
  out.integer(static_cast<std::int64_t>(conn.id()));
  out.bulk("mode");
  out.bulk("standalone");
  out.bulk("role");
  out.bulk("master");
  out.bulk("modules");
  out.array(0);
}

} // namespace

std::string render_info(daemon_context& ctx, const std::string& wanted) {
  auto section = protocol::to_lower(wanted);
  auto include = [&](const char* name) {
    return section.empty() || section == "all" || section == "everything" || section == "default" ||
           section == name;
  };
  auto status = ctx.redis.status();
  std::string text;
  auto line = [&](const std::string& key, const std::string& value) {
    text += key + ":" + value + "\r\n";
  };
  if (include("server")) {
    text += "# Server\r\n";
    line("baton_version", baton::version);
    line("node_id", ctx.cfg.node_id);
    line("process_id", std::to_string(getpid()));
    line("uptime_in_seconds", std::to_string(ctx.uptime_seconds()));
    line("socket", ctx.cfg.socket.path);
    line("http", ctx.cfg.http.enabled ? ctx.cfg.http.listen : "disabled");
    line("prefix", ctx.cfg.prefix);
    line("config_file", ctx.cfg.source);
    // 0 once secrets are configured: the kernel writes no core dump of this process (and
    // refuses ptrace by other users), so no plaintext or KEK can leak that way.
    line("dumpable", std::to_string(prctl(PR_GET_DUMPABLE, 0, 0, 0, 0)));
    text += "\r\n";
  }
  if (include("clients")) {
    text += "# Clients\r\n";
    line("connected_clients", std::to_string(ctx.requests.connected_clients.load()));
    line("total_connections_received", std::to_string(ctx.requests.accepted_clients.load()));
    text += "\r\n";
  }
  if (include("redis")) {
    text += "# Redis\r\n";
    line("redis_endpoint", status.endpoint);
    line("redis_reachable", status.reachable() ? "1" : "0");
    line("redis_connections", std::to_string(status.connections));
    line("redis_connections_ready", std::to_string(status.ready));
    line("redis_breaker", redis_link::breaker_state_name(status.breaker));
    line("redis_last_error", status.last_error.empty() ? "none" : status.last_error);
    line("redis_commands_sent", std::to_string(ctx.link.commands.load()));
    line("redis_round_trips", std::to_string(ctx.link.round_trips.load()));
    line("redis_master_switches", std::to_string(ctx.link.master_switches.load()));
    line("redis_waits_short", std::to_string(ctx.link.waits_short.load()));
    line("redis_cluster_primaries", std::to_string(ctx.link.cluster_primaries.load()));
    line("redis_cluster_moved", std::to_string(ctx.link.cluster_moved.load()));
    line("redis_cluster_asked", std::to_string(ctx.link.cluster_asked.load()));
    line("redis_reconnects", std::to_string(ctx.link.reconnects.load()));
    text += "\r\n";
  }
  if (include("redis_health")) {
    // What the sampler last read from the server (actors/redis_health); batonctl redis.
    text += "# Redis_health\r\n";
    text += redis_health_info(ctx.redis_health.get(),
                              std::chrono::duration_cast<std::chrono::milliseconds>(
                                  std::chrono::system_clock::now().time_since_epoch())
                                  .count());
    text += "\r\n";
  }
  if (include("stats")) {
    text += "# Stats\r\n";
    line("total_commands_processed", std::to_string(ctx.commands_processed.load()));
    line("protocol_errors", std::to_string(ctx.requests.protocol_errors.load()));
    line("ready", ctx.ready() ? "1" : "0");
    line("draining", ctx.draining.load() ? "1" : "0");
    text += "\r\n";
  }
  return text;
}

namespace {

// One command's description as COMMAND and COMMAND INFO give it (Redis 7 layout).
void describe_command(const std::string& name, const std::vector<const command_spec*>& specs,
                      reply_writer& out) {
  const command_spec* plain = nullptr;
  std::vector<const command_spec*> verbs;
  for (const auto* s : specs) {
    if (s->verb.empty())
      plain = s;
    else
      verbs.push_back(s);
  }
  auto entry = [&](const std::string& entry_name, int arity) {
    out.bulk(entry_name);
    out.integer(arity);
    out.array(1);
    out.simple("fast");
    out.integer(0);
    out.integer(0);
    out.integer(0);
    out.array(0); // ACL categories
    out.array(0); // tips
    out.array(0); // key specs
  };
  out.array(10);
  entry(protocol::to_lower(name), plain ? plain->arity : -2);
  out.array(verbs.size());
  for (const auto* v : verbs) {
    out.array(10);
    entry(protocol::to_lower(name) + "|" + protocol::to_lower(v->verb), v->arity);
    out.array(0);
  }
}

std::vector<std::string> command_names() {
  std::vector<std::string> names;
  for (const auto& spec : protocol::command_table())
    if (std::find(names.begin(), names.end(), spec.name) == names.end())
      names.emplace_back(spec.name);
  return names;
}

std::vector<const command_spec*> specs_named(const std::string& name) {
  std::vector<const command_spec*> specs;
  for (const auto& spec : protocol::command_table())
    if (spec.name == name) specs.push_back(&spec);
  return specs;
}

void command_docs(std::vector<std::string>& args, reply_writer& out) {
  auto names = command_names();
  if (args.size() > 2) {
    std::vector<std::string> wanted;
    for (std::size_t i = 2; i < args.size(); ++i) {
      auto upper = protocol::to_upper(args[i]);
      if (std::find(names.begin(), names.end(), upper) != names.end()) wanted.push_back(upper);
    }
    names = wanted;
  }
  out.map(names.size());
  for (const auto& name : names) {
    auto specs = specs_named(name);
    out.bulk(protocol::to_lower(name));
    out.map(3);
    out.bulk("summary");
    out.bulk(specs.front()->summary);
    out.bulk("since");
    out.bulk("0.1.0");
    out.bulk("group");
    out.bulk("baton");
  }
}

} // namespace

void run_connection_command(const command_spec& spec, std::vector<std::string>& args,
                            client_connection& conn, daemon_context& ctx, reply_writer& out) {
  switch (spec.id) {
  case command_id::ping:
    if (args.size() > 2) return out.error("ERR wrong number of arguments for 'ping' command");
    if (conn.in_watch_mode()) { // as Redis answers in subscribe mode: ["pong", argument]
      out.array(2);
      out.bulk("pong");
      return out.bulk(args.size() == 2 ? args[1] : "");
    }
    return args.size() == 2 ? out.bulk(args[1]) : out.simple("PONG");
  case command_id::echo:
    return out.bulk(args[1]);
  case command_id::hello:
    return hello(args, conn, out);
  case command_id::quit:
    conn.close_after_reply();
    return out.simple("OK");
  case command_id::info:
    if (args.size() > 2) return out.error("ERR syntax error: INFO takes at most one section");
    return out.bulk(render_info(ctx, args.size() == 2 ? args[1] : ""));
  case command_id::client_setname:
    if (!valid_client_name(args[2]))
      return out.error("ERR Client names cannot contain spaces, newlines or special characters.");
    conn.set_name(args[2]);
    return out.simple("OK");
  case command_id::client_getname:
    return conn.name().empty() ? out.null() : out.bulk(conn.name());
  case command_id::client_id:
    return out.integer(static_cast<std::int64_t>(conn.id()));
  case command_id::client_info: {
    const auto& peer = conn.peer();
    return out.bulk("id=" + std::to_string(conn.id()) + " name=" + conn.name() +
                    " resp=" + std::to_string(conn.protocol()) + " " + peer.describe() + "\n");
  }
  case command_id::command_list: {
    auto names = command_names();
    out.array(names.size());
    for (const auto& name : names)
      describe_command(name, specs_named(name), out);
    return;
  }
  case command_id::command_count:
    return out.integer(static_cast<std::int64_t>(command_names().size()));
  case command_id::command_info: {
    out.array(args.size() - 2);
    for (std::size_t i = 2; i < args.size(); ++i) {
      auto specs = specs_named(protocol::to_upper(args[i]));
      if (specs.empty())
        out.null();
      else
        describe_command(protocol::to_upper(args[i]), specs, out);
    }
    return;
  }
  case command_id::command_docs:
    return command_docs(args, out);
  default:
    // Every command in the table has a handler; reaching here is a bug in the router.
    return out.error("ERR internal error: no handler for '" + protocol::full_name(spec) + "'");
  }
}

} // namespace baton
