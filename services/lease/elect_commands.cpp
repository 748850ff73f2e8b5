// ELECT commands; see elect_commands.hpp. Grammar and replies: protocol/API.md.
#include "services/lease/elect_commands.hpp"

#include "model/lease/reserved_names.hpp"
#include "protocol/reply_writer.hpp"
#include "services/lease/lease_commands.hpp"
#include "services/lease/lease_service.hpp"

namespace baton {

using protocol::error_code;
using protocol::result;

namespace {

constexpr std::int64_t default_ttl_ms = 10000;
constexpr std::int64_t default_timeout_ms = 3600000;

std::string lease_name(const std::string& group) {
  return lease::with_prefix(lease::election_prefix, group);
}

void write_term(protocol::reply_writer& out, const lease::lease_grant& g) {
  out.map(2);
  out.bulk("term");
  out.integer(g.token);
  out.bulk("validity_ms");
  out.integer(g.validity.count());
}

void write_leader(protocol::reply_writer& out, const lease::lease_info& info) {
  if (!info.holder || info.holder->state != "held") {
    out.null(); // no leader (free, or in lock-delay after a leader was lost)
    return;
  }
  const auto& h = *info.holder;
  out.map(4);
  out.bulk("candidate");
  out.bulk(h.meta);
  out.bulk("node");
  out.bulk(h.node);
  out.bulk("term");
  out.integer(h.token);
  out.bulk("remaining_ms");
  out.integer(h.remaining_ms);
}

void write_resigned(protocol::reply_writer& out, const lease::released&) {
  out.simple("OK");
}

// A lease's DENIED in an election's words, from the holder it carries.
protocol::failure as_election(const std::string& group, protocol::failure f) {
  if (f.code != protocol::error_code::denied) return f;
  if (const auto* h = f.context_as<lease::lease_holder>())
    f.why =
        "group '" + group + "' is led by " + h->node + " under term " + std::to_string(h->token);
  return f;
}

// A group's leader is public to whoever the access rules let use the group: candidates are
// there to be found (ELECT LEADER, and the DENIED a JOIN hears), whatever uid leads. Leadership
// itself stays its holder's: RESIGN is by connection, and LEASE RELEASE of "elect:" names is
// refused (reserved_names.hpp).
caller group_member(const client_connection& conn, const daemon_context& ctx) {
  auto who = ctx.access.caller_for(conn.peer());
  who.admin = true; // sees the holder as an admin would; overrides nothing (no FORCE here)
  return who;
}

} // namespace

void run_elect_command(const protocol::command_spec& spec, std::vector<std::string>& args,
                       client_connection& conn, daemon_context& ctx,
                       client_connection::reply_ticket ticket) {
  auto self = conn.shared_from_this();
  const std::string group = args[2];
  auto fail = [&](const std::string& why) { conn.fail(ticket, error_code::err, why); };
  auto& leases = *ctx.leases;
  switch (spec.id) {
  case protocol::command_id::elect_join: {
    // ELECT JOIN group candidate [TTL ms] [TIMEOUT ms]
    lease::acquire_request request;
    request.name = lease_name(group);
    request.meta = args[3];
    if (request.meta.empty() || request.meta.size() > 256)
      return fail("candidate must be 1 to 256 bytes");
    std::int64_t ttl = default_ttl_ms, timeout = default_timeout_ms;
    for (std::size_t i = 4; i < args.size(); i += 2) { // option, value
      auto option = protocol::to_upper(args[i]);
      std::int64_t value = 0;
      if (i + 1 >= args.size() || !parse_non_negative(args[i + 1], value) ||
          (option != "TTL" && option != "TIMEOUT"))
        return fail("syntax error near '" + args[i].substr(0, 32) +
                    "'; expected TTL ms or TIMEOUT ms");
      (option == "TTL" ? ttl : timeout) = value;
    }
    if (timeout > default_timeout_ms) return fail("TIMEOUT is at most 3600000 ms");
    request.ttl = std::chrono::milliseconds(ttl);
    request.keep = true;
    request.wait = std::chrono::milliseconds(timeout);
    request.connection = conn.id();
    request.client = conn.peer().describe();
    request.who = group_member(conn, ctx);
    auto reply = reply_with<lease::lease_grant>(self, ticket, write_term);
    return acquire_for(conn, leases, std::move(request),
                       [group, reply](result<lease::lease_grant> r) {
                         if (!r) return reply(as_election(group, std::move(r).error()));
                         reply(std::move(r));
                       });
  }
  case protocol::command_id::elect_leader:
    return leases.info(lease_name(group), group_member(conn, ctx),
                       reply_with<lease::lease_info>(self, ticket, write_leader));
  case protocol::command_id::elect_resign: {
    auto token = leases.token_held_by(lease_name(group), conn.id());
    if (!token)
      return conn.fail(ticket, error_code::notheld,
                       "this connection does not lead group '" + group + "'");
    return leases.release(lease_name(group), *token, ctx.access.caller_for(conn.peer()), false,
                          conn.id(), reply_with<lease::released>(self, ticket, write_resigned));
  }
  default:
    return fail("internal error: not an elect command");
  }
}

} // namespace baton
