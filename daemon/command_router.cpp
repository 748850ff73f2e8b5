// Request routing; see command_router.hpp.
#include "daemon/command_router.hpp"

#include "daemon/command_handlers.hpp"
#include "protocol/command_table.hpp"
#include "protocol/reply_writer.hpp"

namespace baton {
namespace {

// Keeps one client's Redis calls on one Redis connection while its request is routed, so
// that they run in Redis in the order the client sent them (see redis_pool::set_affinity).
class affinity_scope {
public:
  affinity_scope(redis_link::redis_pool& pool, std::uint64_t client) : pool_(pool) {
    pool_.set_affinity(client);
  }
  ~affinity_scope() { pool_.set_affinity(std::nullopt); }
  affinity_scope(const affinity_scope&) = delete;
  affinity_scope& operator=(const affinity_scope&) = delete;

private:
  redis_link::redis_pool& pool_;
};

// The checks every command passes, in order: known (and its arity), allowed in watch mode,
// its family allowed to this peer, admin if it needs it. Empty when it may run, else the error.
std::string refusal(const protocol::lookup_result& found, const std::vector<std::string>& args,
                    client_connection& conn, daemon_context& ctx) {
  if (found.status != protocol::lookup_status::found) return found.error;
  const auto& spec = *found.spec;
  auto name = protocol::to_lower(protocol::full_name(spec));
  if (conn.in_watch_mode() && !spec.in_watch_mode)
    return "ERR can't run '" + name +
           "' in watch mode: a RESP2 connection that watches takes only WATCH and UNWATCH "
           "(LEASE, ELECT, SECRET, SESSION, BREAKER, EVENTS), SUBSCRIBE, UNSUBSCRIBE, PING, "
           "HELLO and QUIT (HELLO 3 mixes pushes with commands)";
  using protocol::error_code;
  auto names = protocol::names_of(spec.id);
  if (!ctx.access.allows(conn.peer(), spec.family, names.kind, protocol::names_in(names, args)))
    return error_text(error_code::noperm,
                      conn.peer().describe() + " may not run '" + name + "'" +
                          (names.kind == protocol::naming::nothing ? "" : " on what it names"));
  if (spec.admin && !ctx.access.is_admin(conn.peer()))
    return error_text(error_code::noperm, conn.peer().describe() + " may not run '" + name +
                                              "': it needs an admin group");
  if (!handler_for(spec.id))
    return error_text(error_code::err, "internal error: no handler for '" + name + "'");
  return {};
}

} // namespace

void route_command(daemon_context& ctx, client_connection& conn, std::vector<std::string>& args,
                   client_connection::reply_ticket ticket) {
  affinity_scope same_connection(ctx.redis, conn.id());
  auto found = protocol::lookup_command(args);
  ticket.family = ctx.requests.family_index(found.spec ? found.spec->family : "unknown");
  if (auto error = refusal(found, args, conn, ctx); !error.empty()) {
    std::string bytes;
    protocol::reply_writer(bytes, ticket.protocol).error(error);
    return conn.complete(ticket, std::move(bytes));
  }
  handler_for(found.spec->id)(*found.spec, args, conn, ctx, ticket);
}

} // namespace baton
