// LEASE commands; see lease_commands.hpp.
#include "services/lease/lease_commands.hpp"

#include "model/lease/reserved_names.hpp"
#include "protocol/reply_writer.hpp"
#include "services/lease/lease_service.hpp"

namespace baton {

using protocol::result;

void acquire_for(client_connection& conn, lease::lease_service& leases,
                 lease::acquire_request request,
                 std::function<void(result<lease::lease_grant>)> reply) {
  auto self = conn.shared_from_this();
  leases.acquire(std::move(request), [self, &leases, reply](result<lease::lease_grant> r) {
    // The client may have gone while Redis answered (or while it waited): then nobody holds
    // this grant.
    if (r && self->is_closed()) {
      leases.connection_closed(self->id());
      return;
    }
    reply(std::move(r));
  });
}

namespace {

void write_grant(protocol::reply_writer& out, const lease::lease_grant& g) {
  out.map(2);
  out.bulk("token");
  out.integer(g.token);
  out.bulk("validity_ms");
  out.integer(g.validity.count());
}

void write_info(protocol::reply_writer& out, const lease::lease_info& info) {
  if (!info.holder) return out.null();
  const auto& h = *info.holder;
  out.map(6);
  out.bulk("state");
  out.bulk(h.state);
  out.bulk("node");
  out.bulk(h.node);
  out.bulk("client");
  out.bulk(h.client);
  out.bulk("token");
  out.integer(h.token);
  out.bulk("remaining_ms");
  out.integer(h.remaining_ms);
  out.bulk("meta");
  out.bulk(h.meta);
}

void write_names(protocol::reply_writer& out, const std::vector<std::string>& names) {
  out.array(names.size());
  for (const auto& n : names)
    out.bulk(n);
}

void write_ok(protocol::reply_writer& out, const lease::released&) {
  out.simple("OK");
}

// Taking, renewing or releasing a name the daemons keep for themselves (reserved_names.hpp).
std::string reserved_refusal(const std::string& name) {
  auto prefix = lease::reserved_prefix_of(name);
  if (!prefix) return {};
  return protocol::error_text(
      protocol::error_code::noperm,
      "lease names starting with '" + std::string(*prefix) + "' are the daemons' own" +
          (*prefix == lease::election_prefix ? " (use ELECT JOIN|RESIGN)" : "") +
          "; they can be read (LEASE INFO|LIST|WATCH), not taken, renewed or released");
}

} // namespace

void run_lease_command(const protocol::command_spec& spec, std::vector<std::string>& args,
                       client_connection& conn, daemon_context& ctx,
                       client_connection::reply_ticket ticket) {
  auto self = conn.shared_from_this(); // replies complete later; keep the connection alive
  const std::string name = args.size() > 2 ? args[2] : "*";
  auto fail = [&](const std::string& text) { conn.fail(ticket, text); };
  auto& leases = *ctx.leases;
  auto who = ctx.access.caller_for(conn.peer());
  std::int64_t number = 0;
  bool changes = spec.id == protocol::command_id::lease_acquire ||
                 spec.id == protocol::command_id::lease_renew ||
                 spec.id == protocol::command_id::lease_release;
  if (changes)
    if (auto refused = reserved_refusal(name); !refused.empty()) return fail(refused);
  switch (spec.id) {
  case protocol::command_id::lease_acquire: {
    lease::acquire_request request;
    request.name = name;
    if (!parse_non_negative(args[3], number))
      return fail("ERR ttl_ms must be a positive integer of milliseconds, got '" +
                  args[3].substr(0, 32) + "'");
    request.ttl = std::chrono::milliseconds(number);
    for (std::size_t i = 4; i < args.size(); ++i) {
      auto option = protocol::to_upper(args[i]);
      if (option == "KEEP") {
        request.keep = true;
      } else if (option == "META" && i + 1 < args.size()) {
        request.meta = args[++i];
        if (request.meta.size() > 4096) return fail("ERR META is limited to 4096 bytes");
      } else if (option == "WAIT" && i + 1 < args.size()) {
        std::int64_t wait_ms = 0;
        if (!parse_non_negative(args[++i], wait_ms) || wait_ms > 3600000)
          return fail("ERR WAIT takes milliseconds from 0 to 3600000");
        request.wait = std::chrono::milliseconds(wait_ms);
      } else {
        return fail("ERR syntax error near '" + args[i].substr(0, 32) +
                    "'; expected WAIT ms, KEEP or META text");
      }
    }
    request.connection = conn.id();
    request.client = conn.peer().describe() + (conn.name().empty() ? "" : " name=" + conn.name());
    request.who = who;
    return acquire_for(conn, leases, std::move(request),
                       reply_with<lease::lease_grant>(self, ticket, write_grant));
  }
  case protocol::command_id::lease_renew: {
    if (!parse_non_negative(args[3], number)) return fail("ERR token must be an integer");
    std::optional<std::chrono::milliseconds> ttl;
    if (args.size() == 5) {
      std::int64_t ms = 0;
      if (!parse_non_negative(args[4], ms))
        return fail("ERR ttl_ms must be a positive integer of milliseconds");
      ttl = std::chrono::milliseconds(ms);
    } else if (args.size() > 5) {
      return fail("ERR wrong number of arguments for 'lease renew' command");
    }
    return leases.renew(name, number, ttl, who,
                        reply_with<lease::lease_grant>(self, ticket, write_grant));
  }
  case protocol::command_id::lease_release: {
    if (!parse_non_negative(args[3], number)) return fail("ERR token must be an integer");
    bool force = args.size() == 5 && protocol::to_upper(args[4]) == "FORCE";
    if (args.size() > 5 || (args.size() == 5 && !force))
      return fail("ERR syntax error; expected LEASE RELEASE name token [FORCE]");
    if (force && !who.admin)
      return fail(protocol::error_text(protocol::error_code::noperm,
                                       conn.peer().describe() +
                                           " may not release with FORCE: it needs an admin group"));
    return leases.release(name, number, who, force, conn.id(),
                          reply_with<lease::released>(self, ticket, write_ok));
  }
  case protocol::command_id::lease_list:
    if (args.size() > 3) return fail("ERR wrong number of arguments for 'lease list' command");
    return leases.list(name, reply_with<std::vector<std::string>>(self, ticket, write_names));
  case protocol::command_id::lease_info:
    return leases.info(name, who, reply_with<lease::lease_info>(self, ticket, write_info));
  default:
    return fail("ERR internal error: not a lease command");
  }
}

} // namespace baton
