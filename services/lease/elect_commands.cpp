// ELECT commands; see elect_commands.hpp. Grammar and replies: protocol/API.md.
#include "services/lease/elect_commands.hpp"

#include "protocol/reply_writer.hpp"
#include "services/lease/lease_commands.hpp"
#include "services/lease/lease_service.hpp"

namespace baton {

using lease::lease_outcome;

namespace {

constexpr std::int64_t default_ttl_ms = 10000;
constexpr std::int64_t default_timeout_ms = 3600000;

std::string lease_name(const std::string& group) {
  return "elect:" + group;
}

std::string encode(const std::string& group, const lease_outcome& o, int protocol) {
  std::string bytes;
  protocol::reply_writer out(bytes, protocol);
  switch (o.what) {
  case lease_outcome::kind::granted:
    out.map(2);
    out.bulk("term");
    out.integer(o.token);
    out.bulk("validity_ms");
    out.integer(o.validity.count());
    break;
  case lease_outcome::kind::denied:
    out.error("DENIED group '" + group + "' is led by " + o.holder.node + " under term " +
              std::to_string(o.holder.token));
    break;
  case lease_outcome::kind::info:
    if (o.holder.state != "held") {
      out.null(); // no leader (free, or in lock-delay after a leader was lost)
      break;
    }
    out.map(4);
    out.bulk("candidate");
    out.bulk(o.holder.meta);
    out.bulk("node");
    out.bulk(o.holder.node);
    out.bulk("term");
    out.integer(o.holder.token);
    out.bulk("remaining_ms");
    out.integer(o.holder.remaining_ms);
    break;
  default:
    if (!encode_common_outcome(o, out)) out.error("UNAVAILABLE " + o.why);
    break;
  }
  return bytes;
}

} // namespace

void run_elect_command(const protocol::command_spec& spec, std::vector<std::string>& args,
                       client_connection& conn, daemon_context& ctx,
                       client_connection::reply_ticket ticket) {
  auto self = conn.shared_from_this();
  const std::string group = args[2];
  auto reply = [self, ticket, group](const lease_outcome& o) {
    self->complete(ticket, encode(group, o, ticket.protocol));
  };
  auto fail = [&](const std::string& text) {
    lease_outcome o;
    o.what = lease_outcome::kind::invalid;
    o.why = text;
    reply(o);
  };
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
    for (std::size_t i = 4; i < args.size(); ++i) {
      auto option = protocol::to_upper(args[i]);
      std::int64_t value = 0;
      if (i + 1 >= args.size() || !parse_non_negative(args[i + 1], value) ||
          (option != "TTL" && option != "TIMEOUT"))
        return fail("syntax error near '" + args[i].substr(0, 32) +
                    "'; expected TTL ms or TIMEOUT ms");
      (option == "TTL" ? ttl : timeout) = value;
      ++i;
    }
    if (timeout > default_timeout_ms) return fail("TIMEOUT is at most 3600000 ms");
    request.ttl = std::chrono::milliseconds(ttl);
    request.keep = true;
    request.wait = std::chrono::milliseconds(timeout);
    request.connection = conn.id();
    request.client = conn.peer().describe();
    return acquire_for(
        conn, leases, std::move(request),
        [group](const lease_outcome& o, int protocol) { return encode(group, o, protocol); },
        ticket);
  }
  case protocol::command_id::elect_leader:
    return leases.info(lease_name(group), reply);
  case protocol::command_id::elect_resign: {
    auto token = leases.token_held_by(lease_name(group), conn.id());
    if (!token) {
      lease_outcome o;
      o.what = lease_outcome::kind::not_held;
      o.why = "this connection does not lead group '" + group + "'";
      return reply(o);
    }
    return leases.release(lease_name(group), *token, reply);
  }
  default:
    return fail("internal error: not an elect command");
  }
}

} // namespace baton
