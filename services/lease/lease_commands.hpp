// LEASE ACQUIRE|RENEW|RELEASE|INFO: parses arguments, asks the lease service, and encodes its
// answer (grammar and replies: protocol/API.md).
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "daemon/client_connection.hpp"
#include "daemon/daemon_context.hpp"
#include "protocol/argument_numbers.hpp"
#include "protocol/command_table.hpp"
#include "protocol/reply_writer.hpp"
#include "services/lease/lease_service.hpp"

namespace baton {

void run_lease_command(const protocol::command_spec& spec, std::vector<std::string>& args,
                       client_connection& conn, daemon_context& ctx,
                       client_connection::reply_ticket ticket);

/// Acquires for a connection and hands the result to `reply`; a grant that arrives after the
/// connection closed is released at once instead.
void acquire_for(client_connection& conn, lease::lease_service& leases,
                 lease::acquire_request request,
                 std::function<void(protocol::result<lease::lease_grant>)> reply);


} // namespace baton
