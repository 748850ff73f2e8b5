// NODE LIST|INFO|DRAIN: the fleet's members as Redis has them, and draining this node (admin):
// /readyz turns 503 at once and the drain is announced. Replies in protocol/API.md.
#pragma once

#include <string>
#include <vector>

#include "daemon/client_connection.hpp"
#include "daemon/daemon_context.hpp"
#include "protocol/command_table.hpp"

namespace baton {

void run_node_command(const protocol::command_spec& spec, std::vector<std::string>& args,
                      client_connection& conn, daemon_context& ctx,
                      client_connection::reply_ticket ticket);

} // namespace baton
