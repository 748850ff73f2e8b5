// Resume tokens: what a client presents on another node to take its session back after a
// handoff. A token names the session, the owner epoch it was issued at and a one-time nonce,
// and carries an HMAC-SHA256 under a key derived from a KEK (so every daemon of the fleet can
// check it, and nobody without the KEK can forge one). Redis decides whether the nonce is
// still the current one (lua/session_resume.lua), so a token works once.
//   v1.<session id>.<epoch>.<nonce>.<kek id>.<hmac hex>
#pragma once

#include <cstdint>
#include <string>

#include "model/secret/envelope.hpp"

namespace baton::session {

struct token_claims {
  std::string session;
  std::int64_t epoch = 0;
  std::string nonce;
};

/// A token for the claims, signed with the keyring's active KEK's token key.
std::string make_token(const secret::keyring& keys, const token_claims& claims);

/// Checks a token's form and HMAC (constant-time) with the KEK it names; false with a reason
/// that repeats nothing of the token.
bool check_token(const secret::keyring& keys, const std::string& token, token_claims& out,
                 std::string& why);

/// The nonce a resume with `claims` on `node` puts in place: derived from the token, not
/// random, so that a resume whose answer was lost, sent again with the same token on the same
/// node, finds the nonce it put there and gets the same next token (lua/session_resume.lua).
/// Nobody without the KEK can compute it.
std::string next_nonce(const secret::keyring& keys, const token_claims& claims,
                       const std::string& node);

/// 16 random bytes as 32 hex digits: session ids and nonces.
std::string random_id();

} // namespace baton::session
