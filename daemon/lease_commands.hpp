// LEASE ACQUIRE|RENEW|RELEASE|INFO: parses arguments, asks the lease service, and encodes its
// answer (grammar and replies: protocol/API.md).
#pragma once

#include <string>
#include <vector>

#include "daemon/client_connection.hpp"
#include "daemon/daemon_context.hpp"
#include "protocol/command_table.hpp"

namespace baton {

void run_lease_command(const protocol::command_spec& spec, std::vector<std::string>& args,
                       client_connection& conn, daemon_context& ctx,
                       client_connection::reply_ticket ticket);

/// Parses a non-negative decimal integer that fits in int64; false for anything else.
bool parse_non_negative(const std::string& text, std::int64_t& out);

} // namespace baton
