// SESSION OPEN|GET|TOUCH|CLOSE|LIST|STATE|RESUME|WATCH|UNWATCH: arguments, bounds and reply
// shapes (protocol/API.md); the work is session::session_service's. Also the handoff pushes
// to local apps that watch.
#pragma once

#include <string>
#include <vector>

#include "daemon/client_connection.hpp"
#include "daemon/daemon_context.hpp"
#include "protocol/command_table.hpp"

namespace baton {

void run_session_command(const protocol::command_spec& spec, std::vector<std::string>& args,
                         client_connection& conn, daemon_context& ctx,
                         client_connection::reply_ticket ticket);

/// Pushes handoff-out and handoff-in to the connections that SESSION WATCH.
void connect_session_pushes(daemon_context& ctx);

/// The push_hub topic of SESSION WATCH.
constexpr const char* session_topic = "sessions:";
/// SUBSCRIBE sessions: the same events as Redis pub/sub messages on the channel "sessions"
/// ("handoff-out <id> <target> <address> <token>", "handoff-in <id> <from>"), for client
/// libraries that only hand pub/sub messages to the application.
constexpr const char* session_channel = "sessions";
constexpr const char* session_message_topic = "msg:sessions";

} // namespace baton
