// LEASE WATCH|UNWATCH and ELECT WATCH|UNWATCH, and the wiring that turns lease events into
// pushes: to the watchers of a lease or a group, and `lost` to the holder itself (grammar and
// push layouts: protocol/API.md).
#pragma once

#include <string>
#include <vector>

#include "daemon/client_connection.hpp"
#include "daemon/daemon_context.hpp"
#include "protocol/command_table.hpp"

namespace baton {

void run_watch_command(const protocol::command_spec& spec, std::vector<std::string>& args,
                       client_connection& conn, daemon_context& ctx,
                       client_connection::reply_ticket ticket);

/// Connects the lease service and the lease watch (ctx.leases, ctx.lease_watch) to the push
/// hub, and stops a closed connection's watches.
void connect_lease_pushes(daemon_context& ctx);

} // namespace baton
