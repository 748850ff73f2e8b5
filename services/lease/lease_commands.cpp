// LEASE commands; see lease_commands.hpp.
#include "services/lease/lease_commands.hpp"

#include "protocol/reply_writer.hpp"
#include "services/lease/lease_service.hpp"

namespace baton {

using lease::lease_outcome;

bool parse_non_negative(const std::string& text, std::int64_t& out) {
  if (text.empty() || text.size() > 18) return false;
  std::int64_t value = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return false;
    value = value * 10 + (c - '0');
  }
  out = value;
  return true;
}

bool encode_common_outcome(const lease::lease_outcome& o, protocol::reply_writer& out) {
  switch (o.what) {
  case lease_outcome::kind::lost:
    out.error("LOST " + o.why);
    return true;
  case lease_outcome::kind::not_held:
    out.error("NOTHELD " + o.why);
    return true;
  case lease_outcome::kind::released:
    out.simple("OK");
    return true;
  case lease_outcome::kind::invalid:
    out.error("ERR " + o.why);
    return true;
  case lease_outcome::kind::unavailable:
    out.error("UNAVAILABLE " + o.why);
    return true;
  default:
    return false;
  }
}

void acquire_for(client_connection& conn, lease::lease_service& leases,
                 lease::acquire_request request,
                 std::function<std::string(const lease::lease_outcome&, int)> encode,
                 client_connection::reply_ticket ticket) {
  auto self = conn.shared_from_this();
  leases.acquire(std::move(request), [self, ticket, &leases, encode](lease_outcome o) {
    // The client may have gone while Redis answered (or while it waited): then nobody holds
    // this grant.
    if (o.what == lease_outcome::kind::granted && self->is_closed()) {
      leases.connection_closed(self->id());
      return;
    }
    self->complete(ticket, encode(o, ticket.protocol));
  });
}

namespace {

std::string describe_holder(const std::string& name, const lease::lease_holder& h) {
  if (h.state == "lock-delay")
    return "DENIED lease '" + name + "' is in lock-delay for " + std::to_string(h.remaining_ms) +
           " ms after its holder on node " + h.node + " was lost";
  return "DENIED lease '" + name + "' is held by node " + h.node +
         (h.client.empty() ? "" : " (" + h.client + ")") + " under token " +
         std::to_string(h.token) + " for " + std::to_string(h.remaining_ms) + " ms more";
}

// Encodes an outcome for the client.
std::string encode(const std::string& name, const lease_outcome& o, int protocol) {
  std::string bytes;
  protocol::reply_writer out(bytes, protocol);
  switch (o.what) {
  case lease_outcome::kind::granted:
    out.map(2);
    out.bulk("token");
    out.integer(o.token);
    out.bulk("validity_ms");
    out.integer(o.validity.count());
    break;
  case lease_outcome::kind::denied:
    out.error(describe_holder(name, o.holder));
    break;
  case lease_outcome::kind::listing:
    out.array(o.names.size());
    for (const auto& n : o.names)
      out.bulk(n);
    break;
  default:
    encode_common_outcome(o, out);
    break;
  case lease_outcome::kind::info:
    if (o.holder.state.empty()) {
      out.null();
      break;
    }
    out.map(6);
    out.bulk("state");
    out.bulk(o.holder.state);
    out.bulk("node");
    out.bulk(o.holder.node);
    out.bulk("client");
    out.bulk(o.holder.client);
    out.bulk("token");
    out.integer(o.holder.token);
    out.bulk("remaining_ms");
    out.integer(o.holder.remaining_ms);
    out.bulk("meta");
    out.bulk(o.holder.meta);
    break;
  }
  return bytes;
}

} // namespace

void run_lease_command(const protocol::command_spec& spec, std::vector<std::string>& args,
                       client_connection& conn, daemon_context& ctx,
                       client_connection::reply_ticket ticket) {
  auto self = conn.shared_from_this(); // replies complete later; keep the connection alive
  const std::string name = args.size() > 2 ? args[2] : "*";
  auto reply = [self, ticket, name](const lease_outcome& o) {
    self->complete(ticket, encode(name, o, ticket.protocol));
  };
  auto fail = [&](const std::string& text) { conn.fail(ticket, text); };
  auto& leases = *ctx.leases;
  std::int64_t number = 0;
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
    return acquire_for(
        conn, leases, std::move(request),
        [name](const lease_outcome& o, int protocol) { return encode(name, o, protocol); }, ticket);
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
    return leases.renew(name, number, ttl, reply);
  }
  case protocol::command_id::lease_release:
    if (!parse_non_negative(args[3], number)) return fail("ERR token must be an integer");
    return leases.release(name, number, reply);
  case protocol::command_id::lease_list:
    if (args.size() > 3) return fail("ERR wrong number of arguments for 'lease list' command");
    return leases.list(name, reply);
  case protocol::command_id::lease_info:
    return leases.info(name, reply);
  default:
    return fail("ERR internal error: not a lease command");
  }
}

} // namespace baton
