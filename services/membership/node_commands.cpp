// NODE commands; see node_commands.hpp.
#include "services/membership/node_commands.hpp"

#include "services/membership/membership_service.hpp"
#include "services/session/session_service.hpp"
#include "protocol/reply_writer.hpp"

namespace baton {
namespace {

using membership::node_record;

void write_node(protocol::reply_writer& out, const node_record& n, const std::string& self) {
  out.map(8);
  out.bulk("id");
  out.bulk(n.id);
  out.bulk("address");
  out.bulk(n.address);
  out.bulk("version");
  out.bulk(n.version);
  out.bulk("state");
  out.bulk(n.state);
  out.bulk("sessions");
  out.integer(n.sessions);
  out.bulk("heartbeat_ms_ago");
  out.integer(n.heartbeat_age_ms);
  out.bulk("started_ms");
  out.integer(n.started_ms);
  out.bulk("self");
  out.integer(n.id == self ? 1 : 0);
}

} // namespace

void run_node_command(const protocol::command_spec& spec, std::vector<std::string>& args,
                      client_connection& conn, daemon_context& ctx,
                      client_connection::reply_ticket ticket) {
  auto self = conn.shared_from_this(); // replies complete later; keep the connection alive
  auto& members = *ctx.members;
  const auto node_id = ctx.cfg.node_id;
  switch (spec.id) {
  case protocol::command_id::node_list:
  case protocol::command_id::node_info: {
    bool one = spec.id == protocol::command_id::node_info;
    if (one && args.size() > 3)
      return conn.fail(ticket, "ERR wrong number of arguments for 'node info' command");
    auto id = one ? (args.size() == 3 ? args[2] : node_id) : std::string();
    return members.list(
        id, [self, ticket, one, node_id](bool ok, std::vector<node_record> nodes, std::string why) {
          std::string bytes;
          protocol::reply_writer out(bytes, ticket.protocol);
          if (!ok) {
            out.error("UNAVAILABLE " + why);
          } else if (one) {
            if (nodes.empty())
              out.null();
            else
              write_node(out, nodes.front(), node_id);
          } else {
            out.array(nodes.size());
            for (const auto& n : nodes)
              write_node(out, n, node_id);
          }
          self->complete(ticket, std::move(bytes));
        });
  }
  case protocol::command_id::node_drain: {
    if (args.size() == 3 && protocol::to_upper(args[2]) != "WAIT")
      return conn.fail(ticket, "ERR syntax error; expected NODE DRAIN [WAIT]");
    // Ready no more at once: a load balancer polling /readyz stops sending traffic first.
    ctx.draining = true;
    bool wait = args.size() == 3;
    auto* sessions = ctx.sessions;
    auto reply = [self, ticket, node_id](bool announced, const session::handoff_report* r) {
      std::string bytes;
      protocol::reply_writer out(bytes, ticket.protocol);
      out.map(r ? 9 : 3);
      out.bulk("node");
      out.bulk(node_id);
      out.bulk("state");
      out.bulk("draining");
      out.bulk("announced");
      out.integer(announced ? 1 : 0);
      if (r) {
        out.bulk("sessions");
        out.integer(static_cast<std::int64_t>(r->owned));
        out.bulk("moved");
        out.integer(static_cast<std::int64_t>(r->moved));
        out.bulk("resumed");
        out.integer(static_cast<std::int64_t>(r->resumed));
        out.bulk("failed");
        out.integer(static_cast<std::int64_t>(r->failed));
        out.bulk("stayed");
        out.integer(static_cast<std::int64_t>(r->stayed));
        out.bulk("took_ms");
        out.integer(r->took.count());
      }
      self->complete(ticket, std::move(bytes));
    };
    if (!sessions)
      return members.drain([reply](bool announced) { reply(announced, nullptr); });
    // The fleet hears of the drain first (so no new sessions come), then each session moves
    // to an active node; WAIT answers when each was resumed or the handoff deadline passed.
    return sessions->drain(
        [wait, reply](bool announced) {
          if (!wait) reply(announced, nullptr);
        },
        [wait, reply](session::handoff_report r) {
          if (wait) reply(r.announced, &r);
        });
  }
  default:
    return conn.fail(ticket, "ERR internal error: not a node command");
  }
}

} // namespace baton
