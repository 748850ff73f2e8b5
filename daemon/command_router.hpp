// Routes one parsed request: looks the command up in the table, checks arity and access,
// and hands it to its handler. Connection commands are answered here at once, on the I/O
// thread (no hop); commands that need Redis complete the reply ticket from their callback.
#pragma once

#include <string>
#include <vector>

#include "daemon/client_connection.hpp"
#include "daemon/daemon_context.hpp"

namespace baton {

void route_command(daemon_context& ctx, client_connection& conn, std::vector<std::string>& args,
                   client_connection::reply_ticket ticket);

} // namespace baton
