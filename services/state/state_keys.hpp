// Where STATE's entries live in Redis and how a request's keys are split into calls: an entry
// is the hash "<namespace key_prefix>{<key>}" (the key is the hash tag, so entries spread over
// a Cluster's slots), and a multi-key request makes one script call per slot its keys hash to
// (one call in all on a single Redis), never one per key.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "model/state/state_settings.hpp"

namespace baton::state {

/// The Redis key of `key`'s entry in `ns`.
std::string entry_key(const state_namespace& ns, std::string_view key);

/// The app's key of an entry's Redis key; nullopt if it is not one of `ns`'s entries.
std::optional<std::string> app_key(const state_namespace& ns, std::string_view redis_key);

/// `text` with SCAN MATCH's special characters (* ? [ ] \) escaped, to match itself only.
std::string glob_escape(std::string_view text);

/// The SCAN MATCH pattern of `ns`'s entries whose key starts with `prefix`.
std::string entry_pattern(const state_namespace& ns, std::string_view prefix);

/// Positions of `redis_keys` grouped by slot, each group in request order: one group for all
/// of them when not `clustered`, since a single Redis takes them in one call.
std::vector<std::vector<std::size_t>> group_by_slot(const std::vector<std::string>& redis_keys,
                                                    bool clustered);

} // namespace baton::state
