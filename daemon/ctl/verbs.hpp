// batonctl's verbs, by kind. main.cpp looks a command up in all of them.
#pragma once

#include <vector>

#include "daemon/ctl/command_line.hpp"

namespace baton::ctl {

/// status, ping, info: is batond up, and what it says about itself.
std::vector<verb_spec> status_verbs();
/// One request, one reply, for every family: node, lease, elect leader, rate, dedup, secret,
/// session, breaker.
std::vector<verb_spec> family_verbs();
/// state get|set|del|keys|count|clear, and export and import of a namespace.
std::vector<verb_spec> state_verbs();
/// Holding while something runs: lock NAME -- COMMAND, elect GROUP NAME -- COMMAND, and
/// lease acquire (holds until interrupted).
std::vector<verb_spec> running_verbs();
/// watch KIND [NAME...]: events as they come, one line (or JSON line) each.
std::vector<verb_spec> watch_verbs();

} // namespace baton::ctl
