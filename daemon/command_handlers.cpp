// The binding of commands to handlers; see command_handlers.hpp.
#include "daemon/command_handlers.hpp"

#include <array>
#include <utility>

#include "daemon/connection_commands.hpp"
#include "daemon/watch_commands.hpp"
#include "protocol/reply_writer.hpp"
#include "redis/redis_time.hpp"
#include "services/dedup/dedup_commands.hpp"
#include "services/cache/cache_commands.hpp"
#include "services/events/events_commands.hpp"
#include "services/state/state_commands.hpp"
#include "services/lease/elect_commands.hpp"
#include "services/lease/lease_commands.hpp"
#include "services/breaker/breaker_commands.hpp"
#include "services/breaker/breaker_watch_commands.hpp"
#include "services/membership/node_commands.hpp"
#include "services/rate/rate_commands.hpp"
#include "services/secret/secret_commands.hpp"
#include "services/session/session_commands.hpp"

namespace baton {
namespace {

using protocol::command_id;

// Connection commands answer at once, from this daemon alone.
void connection_command(const protocol::command_spec& spec, std::vector<std::string>& args,
                        client_connection& conn, daemon_context& ctx,
                        client_connection::reply_ticket ticket) {
  std::string bytes;
  protocol::reply_writer out(bytes, ticket.protocol);
  run_connection_command(spec, args, conn, ctx, out);
  conn.complete(ticket, std::move(bytes));
}

// DEBUG RTT: a script through the whole link (EVALSHA, pipelining, budget) and back.
void debug_rtt(const protocol::command_spec&, std::vector<std::string>&, client_connection& conn,
               daemon_context& ctx, client_connection::reply_ticket ticket) {
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
    } else if (auto redis_time_us = redis_link::read_redis_time_us(reply); !redis_time_us) {
      out.error("ERR unexpected reply from redis: " + reply.str);
    } else {
      out.map(2);
      out.bulk("redis_time_us");
      out.integer(*redis_time_us);
      out.bulk("round_trip_us");
      out.integer(micros);
    }
    self->complete(ticket, std::move(bytes));
  });
}

constexpr std::pair<command_id, command_handler> bindings[] = {
    // -- the connection ---------------------------------------------------------------------
    {command_id::ping, connection_command},
    {command_id::echo, connection_command},
    {command_id::hello, connection_command},
    {command_id::quit, connection_command},
    {command_id::info, connection_command},
    {command_id::client_setname, connection_command},
    {command_id::client_getname, connection_command},
    {command_id::client_id, connection_command},
    {command_id::client_info, connection_command},
    {command_id::command_list, connection_command},
    {command_id::command_count, connection_command},
    {command_id::command_info, connection_command},
    {command_id::command_docs, connection_command},
    {command_id::debug_rtt, debug_rtt},
    // -- leases and elections (services/lease) --------------------------------------------
    {command_id::lease_acquire, run_lease_command},
    {command_id::lease_renew, run_lease_command},
    {command_id::lease_release, run_lease_command},
    {command_id::lease_info, run_lease_command},
    {command_id::lease_list, run_lease_command},
    {command_id::elect_join, run_elect_command},
    {command_id::elect_leader, run_elect_command},
    {command_id::elect_resign, run_elect_command},
    // -- watching (daemon/watch_commands): pushes of several families -----------------------
    {command_id::lease_watch, run_watch_command},
    {command_id::lease_unwatch, run_watch_command},
    {command_id::elect_watch, run_watch_command},
    {command_id::elect_unwatch, run_watch_command},
    {command_id::subscribe, run_watch_command},
    {command_id::unsubscribe, run_watch_command},
    // -- rate limits, dedup ----------------------------------------------------------------
    {command_id::rate_check, run_rate_command},
    {command_id::rate_peek, run_rate_command},
    {command_id::rate_reset, run_rate_command},
    {command_id::dedup_claim, run_dedup_command},
    {command_id::dedup_done, run_dedup_command},
    {command_id::dedup_get, run_dedup_command},
    // -- secrets -----------------------------------------------------------------------------
    {command_id::secret_get, run_secret_command},
    {command_id::secret_verify, run_secret_command},
    {command_id::secret_info, run_secret_command},
    {command_id::secret_put, run_secret_command},
    {command_id::secret_rotate, run_secret_command},
    {command_id::secret_rewrap, run_secret_command},
    {command_id::secret_watch, run_secret_command},
    {command_id::secret_unwatch, run_secret_command},
    // -- sessions ----------------------------------------------------------------------------
    {command_id::session_open, run_session_command},
    {command_id::session_get, run_session_command},
    {command_id::session_touch, run_session_command},
    {command_id::session_close, run_session_command},
    {command_id::session_list, run_session_command},
    {command_id::session_state_op, run_session_command},
    {command_id::session_resume, run_session_command},
    {command_id::session_watch, run_session_command},
    {command_id::session_unwatch, run_session_command},
    // -- the fleet -----------------------------------------------------------------------------
    {command_id::node_list, run_node_command},
    {command_id::node_info, run_node_command},
    {command_id::node_drain, run_node_command},
    {command_id::breaker_check, run_breaker_command},
    {command_id::breaker_report, run_breaker_command},
    {command_id::breaker_state, run_breaker_command},
    {command_id::breaker_list, run_breaker_command},
    {command_id::breaker_force, run_breaker_command},
    {command_id::breaker_watch, run_breaker_watch},
    {command_id::breaker_unwatch, run_breaker_watch},
    // -- shared state ---------------------------------------------------------------------------
    {command_id::state_get, run_state_command},
    {command_id::state_set, run_state_command},
    {command_id::state_del, run_state_command},
    {command_id::state_exists, run_state_command},
    {command_id::state_ttl, run_state_command},
    {command_id::state_getdel, run_state_command},
    {command_id::state_mget, run_state_command},
    {command_id::state_mset, run_state_command},
    {command_id::state_mdel, run_state_command},
    {command_id::state_scan, run_state_command},
    {command_id::state_count, run_state_command},
    {command_id::state_clear, run_state_command},
    {command_id::state_restore, run_state_command},
    {command_id::cache_get, run_cache_command},
    {command_id::cache_set, run_cache_command},
    {command_id::cache_del, run_cache_command},
    {command_id::cache_invalidate, run_cache_command},
    {command_id::cache_stats, run_cache_command},
    {command_id::events_publish, run_events_command},
    {command_id::events_read, run_events_command},
    {command_id::events_group, run_events_command},
    {command_id::events_watch, run_events_command},
    {command_id::events_unwatch, run_events_command},
};

} // namespace

command_handler handler_for(command_id id) {
  for (const auto& [bound, handler] : bindings)
    if (bound == id) return handler;
  return nullptr;
}

} // namespace baton
