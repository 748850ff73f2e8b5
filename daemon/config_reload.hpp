// SIGHUP: what a running batond can take from a new config without a restart (log level and
// format, access rules, the Redis call budget), and the list of what it cannot.
#pragma once

#include <string>
#include <vector>

#include "daemon/daemon_context.hpp"

namespace baton {

/// Applies the reloadable parts of `next`; returns the keys that changed but need a restart.
std::vector<std::string> apply_reload(daemon_context& ctx, const config& next);

} // namespace baton
