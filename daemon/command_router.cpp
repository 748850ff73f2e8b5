// Request routing; see command_router.hpp.
#include "daemon/command_router.hpp"

#include "daemon/connection_commands.hpp"
#include "services/dedup/dedup_commands.hpp"
#include "services/lease/elect_commands.hpp"
#include "services/lease/lease_commands.hpp"
#include "services/membership/node_commands.hpp"
#include "services/rate/rate_commands.hpp"
#include "services/secret/secret_commands.hpp"
#include "services/session/session_commands.hpp"
#include "daemon/watch_commands.hpp"
#include "protocol/command_table.hpp"
#include "protocol/reply_writer.hpp"

namespace baton {
namespace {

// DEBUG RTT: a script through the whole link (EVALSHA, pipelining, budget) and back.
void debug_rtt(daemon_context& ctx, client_connection& conn,
               client_connection::reply_ticket ticket) {
  // The callback holds the connection strongly: while its reading is paused by backpressure
  // the pending replies are all that keep it alive, and the link answers within its budget.
  auto self = conn.shared_from_this();
  auto sent = std::chrono::steady_clock::now();
  ctx.redis.run_script("time", {}, {}, [self, ticket, sent](redis_link::redis_reply reply) {
    auto micros = std::chrono::duration_cast<std::chrono::microseconds>(
                      std::chrono::steady_clock::now() - sent)
                      .count();
    std::string bytes;
    protocol::reply_writer out(bytes, ticket.protocol);
    if (reply.is_unavailable()) {
      out.error("UNAVAILABLE " + reply.str);
    } else if (reply.kind != redis_link::reply_kind::array || reply.elements.size() != 2) {
      out.error("ERR unexpected reply from redis: " + reply.str);
    } else {
      out.map(2);
      out.bulk("redis_time_us");
      out.integer(reply.elements[0].integer * 1000000 + reply.elements[1].integer);
      out.bulk("round_trip_us");
      out.integer(micros);
    }
    self->complete(ticket, std::move(bytes));
  });
}

} // namespace

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

void dispatch(daemon_context& ctx, client_connection& conn, std::vector<std::string>& args,
              client_connection::reply_ticket ticket);

} // namespace

void route_command(daemon_context& ctx, client_connection& conn, std::vector<std::string>& args,
                   client_connection::reply_ticket ticket) {
  affinity_scope same_connection(ctx.redis, conn.id());
  dispatch(ctx, conn, args, ticket);
}

namespace {

void dispatch(daemon_context& ctx, client_connection& conn, std::vector<std::string>& args,
              client_connection::reply_ticket ticket) {
  auto found = protocol::lookup_command(args);
  ticket.family = ctx.requests.family_index(found.spec ? found.spec->family : "unknown");
  std::string bytes;
  protocol::reply_writer out(bytes, ticket.protocol);
  if (found.status != protocol::lookup_status::found) {
    out.error(found.error);
    return conn.complete(ticket, std::move(bytes));
  }
  const auto& spec = *found.spec;
  if (conn.in_watch_mode() && !spec.in_watch_mode) {
    out.error("ERR can't run '" + protocol::to_lower(protocol::full_name(spec)) +
              "' in watch mode: a RESP2 connection that watches takes only LEASE|ELECT|SECRET "
              "WATCH|UNWATCH, SUBSCRIBE, UNSUBSCRIBE, PING, HELLO and QUIT (HELLO 3 mixes "
              "pushes with commands)");
    return conn.complete(ticket, std::move(bytes));
  }
  if (!ctx.access.allows(conn.peer(), spec.family)) {
    out.error("NOPERM " + conn.peer().describe() + " may not run '" +
              protocol::to_lower(protocol::full_name(spec)) + "'");
    return conn.complete(ticket, std::move(bytes));
  }
  switch (spec.id) {
  case protocol::command_id::debug_rtt:
    return debug_rtt(ctx, conn, ticket);
  case protocol::command_id::lease_acquire:
  case protocol::command_id::lease_renew:
  case protocol::command_id::lease_release:
  case protocol::command_id::lease_info:
  case protocol::command_id::lease_list:
    return run_lease_command(spec, args, conn, ctx, ticket);
  case protocol::command_id::lease_watch:
  case protocol::command_id::lease_unwatch:
  case protocol::command_id::elect_watch:
  case protocol::command_id::elect_unwatch:
  case protocol::command_id::subscribe:
  case protocol::command_id::unsubscribe:
    return run_watch_command(spec, args, conn, ctx, ticket);
  case protocol::command_id::rate_check:
  case protocol::command_id::rate_peek:
  case protocol::command_id::rate_reset:
    return run_rate_command(spec, args, conn, ctx, ticket);
  case protocol::command_id::dedup_claim:
  case protocol::command_id::dedup_done:
  case protocol::command_id::dedup_get:
    return run_dedup_command(spec, args, conn, ctx, ticket);
  case protocol::command_id::secret_get:
  case protocol::command_id::secret_verify:
  case protocol::command_id::secret_info:
  case protocol::command_id::secret_put:
  case protocol::command_id::secret_rotate:
  case protocol::command_id::secret_rewrap:
  case protocol::command_id::secret_watch:
  case protocol::command_id::secret_unwatch:
    return run_secret_command(spec, args, conn, ctx, ticket);
  case protocol::command_id::session_open:
  case protocol::command_id::session_get:
  case protocol::command_id::session_touch:
  case protocol::command_id::session_close:
  case protocol::command_id::session_list:
  case protocol::command_id::session_state_op:
  case protocol::command_id::session_resume:
  case protocol::command_id::session_watch:
  case protocol::command_id::session_unwatch:
    return run_session_command(spec, args, conn, ctx, ticket);
  case protocol::command_id::node_list:
  case protocol::command_id::node_info:
  case protocol::command_id::node_drain:
    return run_node_command(spec, args, conn, ctx, ticket);
  case protocol::command_id::elect_join:
  case protocol::command_id::elect_leader:
  case protocol::command_id::elect_resign:
    return run_elect_command(spec, args, conn, ctx, ticket);
  default:
    run_connection_command(spec, args, conn, ctx, out);
    return conn.complete(ticket, std::move(bytes));
  }
}

} // namespace

} // namespace baton
