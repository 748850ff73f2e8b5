// The error vocabulary of the local API: every error reply starts with one of these stable,
// upper-case codes, then a sentence (as Redis' own -WRONGTYPE). Clients branch on the code,
// the metrics count requests by it, and a test keeps protocol/API.md's error table, and every
// error the daemon's sources write, in step with this list.
#pragma once

#include <array>
#include <optional>
#include <string>
#include <string_view>

namespace baton::protocol {

enum class error_code {
  err,         ///< syntax, arity, unknown command, bad arguments (Redis' own words)
  noproto,     ///< HELLO with an unsupported protocol version
  noperm,      ///< the caller's uid/groups may not (access rules, admin verbs)
  unavailable, ///< Redis did not answer in time, is unreachable, or its breaker is open
  denied,      ///< someone else holds it (a lease, an election)
  lost,        ///< the caller held it, and no longer does (its safe validity ended)
  notheld,     ///< the caller never held it under that token
  draining,    ///< this node drains for a deploy: go to the node named
  moved,       ///< it belongs to another node now: go there
  refused,     ///< a token or request that is not (or no longer) valid
  busy,        ///< the same work is running elsewhere (a rotation)
  conflict,    ///< a concurrent change won (a session's state)
  unknown,     ///< Redis may or may not have applied it, and the daemon could not find out
};

/// Every code, in the order of the enum.
inline constexpr std::array<error_code, 13> all_error_codes = {
    error_code::err,    error_code::noproto, error_code::noperm,  error_code::unavailable,
    error_code::denied, error_code::lost,    error_code::notheld, error_code::draining,
    error_code::moved,  error_code::refused, error_code::busy,    error_code::conflict,
    error_code::unknown};

/// "ERR", "UNAVAILABLE", ...: the word that starts the error reply.
std::string_view code_word(error_code code);

/// The code an error text starts with ("LOST the lease ..." -> lost); nullopt if its first
/// word is not a code of the vocabulary.
std::optional<error_code> parse_error_code(std::string_view error_text);

/// "CODE why", as an error reply carries it.
std::string error_text(error_code code, std::string_view why);

} // namespace baton::protocol
