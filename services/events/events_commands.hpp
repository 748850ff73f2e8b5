// EVENTS PUBLISH|READ|WATCH|UNWATCH and EVENTS GROUP CREATE|READ|ACK|CLAIM: checks the topic,
// payload, ids and options, asks the events service, and encodes its answer (grammar and
// replies: protocol/API.md).
#pragma once

#include <string>
#include <vector>

#include "daemon/client_connection.hpp"
#include "daemon/daemon_context.hpp"
#include "protocol/command_table.hpp"

namespace baton {

/// Hands the events service's pushes to the connections (push_hub), and tells it of closes.
void connect_events_pushes(daemon_context& ctx);

void run_events_command(const protocol::command_spec& spec, std::vector<std::string>& args,
                        client_connection& conn, daemon_context& ctx,
                        client_connection::reply_ticket ticket);

} // namespace baton
