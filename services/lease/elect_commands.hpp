// ELECT JOIN|LEADER|RESIGN: leader election on top of leases. A group's leadership is the
// lease "elect:<group>", taken with KEEP (it lasts while the leader's connection is open) and
// WAIT (candidates queue, woken by the release announcement); the term is its fencing token.
#pragma once

#include <string>
#include <vector>

#include "daemon/client_connection.hpp"
#include "daemon/daemon_context.hpp"
#include "protocol/command_table.hpp"

namespace baton {

void run_elect_command(const protocol::command_spec& spec, std::vector<std::string>& args,
                       client_connection& conn, daemon_context& ctx,
                       client_connection::reply_ticket ticket);

} // namespace baton
