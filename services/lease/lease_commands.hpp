// LEASE ACQUIRE|RENEW|RELEASE|INFO: parses arguments, asks the lease service, and encodes its
// answer (grammar and replies: protocol/API.md).
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "daemon/client_connection.hpp"
#include "daemon/daemon_context.hpp"
#include "protocol/command_table.hpp"
#include "protocol/reply_writer.hpp"
#include "services/lease/lease_service.hpp"

namespace baton {

void run_lease_command(const protocol::command_spec& spec, std::vector<std::string>& args,
                       client_connection& conn, daemon_context& ctx,
                       client_connection::reply_ticket ticket);

/// Encodes the outcomes LEASE and ELECT answer alike (LOST, NOTHELD, OK, ERR, UNAVAILABLE);
/// false for the others.
bool encode_common_outcome(const lease::lease_outcome& o, protocol::reply_writer& out);

/// Acquires for a connection and completes its reply with `encode`; a grant that arrives
/// after the connection closed is released at once.
void acquire_for(client_connection& conn, lease::lease_service& leases,
                 lease::acquire_request request,
                 std::function<std::string(const lease::lease_outcome&, int)> encode,
                 client_connection::reply_ticket ticket);

/// Parses a non-negative decimal integer that fits in int64; false for anything else.
bool parse_non_negative(const std::string& text, std::int64_t& out);

} // namespace baton
