// Which arguments of a request are the names it acts on (a lease, a group, a rate policy, an
// idempotency key, a secret, a session's user, a breaker), so that access rules can grant a
// family for some names only: `names: ["billing/*"]` gives an app its own leases, policies,
// keys, secrets and users, and nobody else's.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "protocol/command_table.hpp"

namespace baton::protocol {

enum class naming {
  nothing, ///< names nothing it acts on (LIST, NODE, DEBUG): granted only by rules without names
  owned,   ///< acts on what the caller's uid owns (a session by id or token): no name to check
  one,     ///< the argument at `first` (absent if the request is shorter: nothing to check)
  rest,    ///< every argument from `first` on (WATCH, UNWATCH)
};

struct names_spec {
  naming kind = naming::nothing;
  std::size_t first = 2;
};

names_spec names_of(command_id id);

/// The names a request acts on, per names_of.
std::vector<std::string_view> names_in(const names_spec& spec,
                                       const std::vector<std::string>& args);

/// Matches a rule's name pattern: exact, or a prefix ending in '*' ("billing/*").
bool name_matches(std::string_view pattern, std::string_view name);

} // namespace baton::protocol
