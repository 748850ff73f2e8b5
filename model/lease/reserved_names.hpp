// The lease names the daemons take for themselves: the rotation of a secret, the adoption of a
// dead node's sessions, and the elections ELECT runs. An app must not take, renew or release
// them through LEASE: holding "secret-rotation/db" would stop every rotation of db, holding
// "session-adopt/<node>" would strand a dead node's sessions until their TTL, and releasing
// "elect:<group>" would unseat a leader. They stay readable (LEASE INFO, LIST, WATCH).
#pragma once

#include <array>
#include <optional>
#include <string>
#include <string_view>

namespace baton::lease {

inline constexpr std::string_view rotation_prefix = "secret-rotation/";
inline constexpr std::string_view adoption_prefix = "session-adopt/";
inline constexpr std::string_view election_prefix = "elect:";

inline constexpr std::array<std::string_view, 3> reserved_prefixes = {
    rotation_prefix, adoption_prefix, election_prefix};

/// The reserved prefix `name` starts with, if any.
inline std::optional<std::string_view> reserved_prefix_of(std::string_view name) {
  for (auto prefix : reserved_prefixes)
    if (name.substr(0, prefix.size()) == prefix) return prefix;
  return std::nullopt;
}

inline std::string with_prefix(std::string_view prefix, const std::string& rest) {
  return std::string(prefix) + rest;
}

} // namespace baton::lease
