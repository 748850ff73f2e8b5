// What each command names; see command_names.hpp.
#include "protocol/command_names.hpp"

namespace baton::protocol {

names_spec names_of(command_id id) {
  switch (id) {
  case command_id::lease_acquire:
  case command_id::lease_renew:
  case command_id::lease_release:
  case command_id::lease_info:
  case command_id::elect_join:
  case command_id::elect_leader:
  case command_id::elect_resign:
  case command_id::rate_check:
  case command_id::rate_peek:
  case command_id::rate_reset:
  case command_id::dedup_claim:
  case command_id::dedup_done:
  case command_id::dedup_get:
  case command_id::secret_get:
  case command_id::secret_verify:
  case command_id::secret_info:
  case command_id::secret_put:
  case command_id::secret_rotate:
  case command_id::secret_rewrap: // without a name it names nothing to check: it is admin's
  case command_id::session_open:
  case command_id::session_list:
  case command_id::breaker_check:
  case command_id::breaker_report:
  case command_id::breaker_state:
  case command_id::breaker_force:
  case command_id::state_get:
  case command_id::state_set:
  case command_id::state_del:
  case command_id::state_exists:
  case command_id::state_ttl:
  case command_id::state_getdel:
  case command_id::state_mget:
  case command_id::state_mset:
  case command_id::state_mdel:
  case command_id::state_scan:
  case command_id::state_count:
  case command_id::state_clear:
  case command_id::state_restore:
  case command_id::cache_get:
  case command_id::cache_set:
  case command_id::cache_del:
  case command_id::cache_invalidate:
  case command_id::events_publish:
  case command_id::events_read:
  case command_id::events_watch:
    return {naming::one, 2}; // STATE, CACHE: the namespace; EVENTS: the topic
  case command_id::events_group:
    return {naming::one, 3}; // EVENTS GROUP verb topic
  case command_id::lease_watch:
  case command_id::lease_unwatch:
  case command_id::elect_watch:
  case command_id::elect_unwatch:
  case command_id::secret_watch:
  case command_id::secret_unwatch:
  case command_id::breaker_watch:
  case command_id::breaker_unwatch:
  case command_id::events_unwatch:
    return {naming::rest, 2};
  case command_id::session_get:
  case command_id::session_touch:
  case command_id::session_close:
  case command_id::session_state_op:
  case command_id::session_resume:
  case command_id::session_watch:
  case command_id::session_unwatch:
    return {naming::owned, 2};
  default:
    return {naming::nothing, 2};
  }
}

std::vector<std::string_view> names_in(const names_spec& spec,
                                       const std::vector<std::string>& args) {
  std::vector<std::string_view> names;
  if (spec.kind == naming::one && spec.first < args.size()) names.push_back(args[spec.first]);
  if (spec.kind == naming::rest)
    for (std::size_t i = spec.first; i < args.size(); ++i)
      names.push_back(args[i]);
  return names;
}

bool name_matches(std::string_view pattern, std::string_view name) {
  if (!pattern.empty() && pattern.back() == '*') {
    auto prefix = pattern.substr(0, pattern.size() - 1);
    return name.substr(0, prefix.size()) == prefix;
  }
  return pattern == name;
}

} // namespace baton::protocol
