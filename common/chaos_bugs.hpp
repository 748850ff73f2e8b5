// Deliberate bugs for the chaos harness (chaos/): each breaks one promise of baton the way a
// plausible mistake would, so that a test can show the harness's checkers catch it (as etcd's
// robustness suite replays known bugs). Off unless BATON_CHAOS_BUGS names them in batond's
// environment, like BATON_FAILPOINTS; a daemon started with one logs a warning at start.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace baton::chaos_bugs {

/// The bugs BATON_CHAOS_BUGS enables (comma-separated; read once). Empty in production.
const std::vector<std::string>& enabled();

/// `body` of lua/<script>.lua with the edits of the enabled bugs that apply to it. Throws
/// std::runtime_error for an unknown bug name, or when an edit's text is no longer in the
/// script (so a bug can never silently turn into no bug when a script changes).
std::string apply(std::string_view script, std::string body);

} // namespace baton::chaos_bugs
