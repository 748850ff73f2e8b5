// The command table of the local API: every command's name, verb, arity, family and whether
// it needs an admin, in one place. The router looks commands up here and dispatches by id to
// the handler the daemon binds to it (daemon/command_handlers), COMMAND answers from it, the
// metrics label requests by its family, and a test keeps protocol/API.md in step with it.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace baton::protocol {

enum class command_id {
  ping,
  echo,
  hello,
  quit,
  info,
  client_setname,
  client_getname,
  client_id,
  client_info,
  command_list,
  command_count,
  command_info,
  command_docs,
  debug_rtt,
  lease_acquire,
  lease_renew,
  lease_release,
  lease_info,
  lease_list,
  lease_watch,
  lease_unwatch,
  elect_join,
  elect_leader,
  elect_resign,
  elect_watch,
  elect_unwatch,
  rate_check,
  rate_peek,
  rate_reset,
  dedup_claim,
  dedup_done,
  dedup_get,
  secret_get,
  secret_verify,
  secret_info,
  secret_put,
  secret_rotate,
  secret_rewrap,
  secret_watch,
  secret_unwatch,
  session_open,
  session_get,
  session_touch,
  session_close,
  session_list,
  session_state_op,
  session_resume,
  session_watch,
  session_unwatch,
  node_list,
  node_info,
  node_drain,
  breaker_check,
  breaker_report,
  breaker_state,
  breaker_list,
  breaker_force,
  breaker_watch,
  breaker_unwatch,
  state_get,
  state_set,
  state_del,
  state_exists,
  state_ttl,
  state_getdel,
  state_mget,
  state_mset,
  state_mdel,
  state_scan,
  state_count,
  state_clear,
  state_restore,
  cache_get,
  cache_set,
  cache_del,
  cache_invalidate,
  cache_stats,
  events_publish,
  events_read,
  events_group,
  events_watch,
  events_unwatch,
  subscribe,
  unsubscribe,
};

struct command_spec {
  std::string_view name; ///< upper case, e.g. "CLIENT"
  std::string_view verb; ///< upper case sub-command, e.g. "SETNAME"; empty for plain commands
  /// Redis' convention, counting the name (and verb): n > 0 exactly n, n < 0 at least -n.
  int arity;
  command_id id;
  std::string_view family; ///< metrics label and access-rule family, lower case
  std::string_view summary;
  /// Allowed on a RESP2 connection in watch mode (its replies cannot be mistaken for pushes).
  bool in_watch_mode = false;
  /// Needs an admin group (access.admin_groups), checked by the router before its handler
  /// runs. SECRET's admin verbs are granted per name by the secret rules instead.
  bool admin = false;
};

/// All commands, in the order COMMAND lists them.
const std::vector<command_spec>& command_table();

enum class lookup_status { found, unknown_command, unknown_verb, wrong_arity };

struct lookup_result {
  lookup_status status;
  const command_spec* spec = nullptr;
  std::string error; ///< the Redis-style error text when status != found
};

/// Finds the command for a request (args[0] is the name, args[1] maybe the verb), checking
/// the arity. Names and verbs are case-insensitive.
lookup_result lookup_command(const std::vector<std::string>& args);

/// The full name as users write it: "CLIENT SETNAME" or "PING".
std::string full_name(const command_spec& spec);

/// Upper-cases ASCII letters.
std::string to_upper(std::string_view text);
std::string to_lower(std::string_view text);

} // namespace baton::protocol
