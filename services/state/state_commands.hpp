// STATE GET|SET|DEL|EXISTS|TTL|GETDEL|MGET|MSET|MDEL|SCAN|COUNT|CLEAR|RESTORE: finds the
// namespace, checks its readers and writers, the key, value and batch limits and the options,
// asks the state service, and encodes its answer (grammar and replies: protocol/API.md).
#pragma once

#include <string>
#include <vector>

#include "daemon/client_connection.hpp"
#include "daemon/daemon_context.hpp"
#include "protocol/command_table.hpp"

namespace baton {

void run_state_command(const protocol::command_spec& spec, std::vector<std::string>& args,
                       client_connection& conn, daemon_context& ctx,
                       client_connection::reply_ticket ticket);

} // namespace baton
