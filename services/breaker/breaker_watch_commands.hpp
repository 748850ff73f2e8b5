// Breaker changes pushed to clients: BREAKER WATCH name… (RESP3 pushes, or RESP2 in watch mode:
// ["breaker", state, name, generation, node]) and SUBSCRIBE breaker:<name> for any pub/sub
// client (["message", "breaker:<name>", "<state> <generation> <node>"]). Every change of a
// breaker on this daemon is pushed, whether it was decided here or adopted from the fleet.
#pragma once

#include <string>
#include <vector>

#include "daemon/client_connection.hpp"
#include "daemon/daemon_context.hpp"
#include "protocol/command_table.hpp"
#include "protocol/reply_writer.hpp"

namespace baton {

/// Publishes every breaker change to its watchers and subscribers.
void connect_breaker_pushes(daemon_context& ctx);

/// BREAKER WATCH|UNWATCH.
void run_breaker_watch(const protocol::command_spec& spec, std::vector<std::string>& args,
                       client_connection& conn, daemon_context& ctx,
                       client_connection::reply_ticket ticket);

/// SUBSCRIBE|UNSUBSCRIBE whose channels are all breaker:<name>: answered here (true), else
/// false and nothing is done.
bool breaker_channel_command(const protocol::command_spec& spec,
                             const std::vector<std::string>& args, client_connection& conn,
                             daemon_context& ctx, client_connection::reply_ticket ticket);

/// UNSUBSCRIBE without channels: drops this connection's breaker channels, writing Redis'
/// unsubscribe push for each; how many it dropped.
std::size_t unsubscribe_breaker_channels(daemon_context& ctx, client_connection& conn,
                                         protocol::reply_writer& out);

} // namespace baton
