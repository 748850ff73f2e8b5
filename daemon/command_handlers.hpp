// Which handler answers which command: the daemon's half of the command table. protocol/
// knows every command (name, arity, family, admin) but not the daemon that answers it, so the
// binding of each command id to its handler lives here, as a table, and the router dispatches
// through it. A test checks that every command of the table has a handler.
#pragma once

#include <string>
#include <vector>

#include "daemon/client_connection.hpp"
#include "daemon/daemon_context.hpp"
#include "protocol/command_table.hpp"

namespace baton {

/// Answers one request (the router checked its arity, watch mode and access); completes
/// `ticket` at once or from a callback.
using command_handler = void (*)(const protocol::command_spec& spec,
                                 std::vector<std::string>& args, client_connection& conn,
                                 daemon_context& ctx, client_connection::reply_ticket ticket);

/// The handler bound to `id`; null if none is (a command the daemon does not answer).
command_handler handler_for(protocol::command_id id);

} // namespace baton
