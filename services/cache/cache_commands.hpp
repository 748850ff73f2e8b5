// CACHE GET|SET|DEL|INVALIDATE|STATS: finds the namespace, checks the key, value and TTL
// limits, asks the cache service, and encodes its answer (grammar and replies: protocol/API.md).
#pragma once

#include <string>
#include <vector>

#include "daemon/client_connection.hpp"
#include "daemon/daemon_context.hpp"
#include "protocol/command_table.hpp"

namespace baton {

void run_cache_command(const protocol::command_spec& spec, std::vector<std::string>& args,
                       client_connection& conn, daemon_context& ctx,
                       client_connection::reply_ticket ticket);

} // namespace baton
