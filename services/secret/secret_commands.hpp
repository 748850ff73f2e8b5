// SECRET GET|VERIFY|INFO|PUT|ROTATE|REWRAP|WATCH|UNWATCH: arguments, access rules per secret
// name, and reply shapes (protocol/API.md); the work is secret::secret_service's.
#pragma once

#include <string>
#include <vector>

#include "daemon/client_connection.hpp"
#include "daemon/daemon_context.hpp"
#include "protocol/command_table.hpp"

namespace baton {

void run_secret_command(const protocol::command_spec& spec, std::vector<std::string>& args,
                        client_connection& conn, daemon_context& ctx,
                        client_connection::reply_ticket ticket);

/// Sends `secret rotated <name> <version> <epoch>` to the local watchers of a secret.
void connect_secret_pushes(daemon_context& ctx);

/// push_hub topics of SECRET WATCH start with this.
constexpr const char* secret_topic_prefix = "secret:";

} // namespace baton
