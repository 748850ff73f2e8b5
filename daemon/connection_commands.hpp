// Handlers of the connection commands (PING, ECHO, HELLO, QUIT, INFO, CLIENT, COMMAND): they
// need only the connection and the daemon's state, and answer at once.
#pragma once

#include <string>
#include <vector>

#include "daemon/client_connection.hpp"
#include "daemon/daemon_context.hpp"
#include "protocol/command_table.hpp"
#include "protocol/reply_writer.hpp"

namespace baton {

/// Writes the reply of a connection command into `out`.
void run_connection_command(const protocol::command_spec& spec, std::vector<std::string>& args,
                            client_connection& conn, daemon_context& ctx,
                            protocol::reply_writer& out);

/// INFO's text (all sections, or the one named).
std::string render_info(daemon_context& ctx, const std::string& section);

} // namespace baton
