// One secret as this daemon serves it: the versions it answers GET and VERIFY with, already
// decrypted, and what it knows of the record they came from. The cache actor builds a new one
// on every load and hands it to the reactor whole; neither side changes one after that, so the
// reactor reads it on the request path with no lock and no hop.
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "model/secret/secure_bytes.hpp"

namespace baton::secret {

struct served_version {
  std::int64_t version = 0;
  /// The plaintext, shared by every snapshot that still serves this version (a reload that
  /// finds the same sealed bytes reuses it rather than decrypting again).
  std::shared_ptr<const secure_bytes> value;
  std::array<unsigned char, 32> digest{}; ///< SHA-256 of the value, what VERIFY compares
  /// A previous version verifies until then (its grace end, on the steady clock); the current
  /// one until it is replaced.
  std::chrono::steady_clock::time_point verify_until = std::chrono::steady_clock::time_point::max();
  std::string ciphertext; ///< what it was opened from (not secret): reused while unchanged
};

struct served_secret {
  bool exists = false;
  std::int64_t epoch = -1;
  /// The history it was loaded from (model/secret/secret_identity.hpp): with the epoch, what an
  /// announcement or acknowledgement is compared with. Empty for a record without one.
  std::string incarnation;
  std::int64_t rotated_at_ms = 0;
  std::optional<served_version> current;
  std::vector<served_version> previous;
  std::string error; ///< the current version could not be opened: GET answers this
  bool stale = false; ///< the last load failed: this is what an earlier load found
  /// The highest version ever seen here, kept when Redis loses the secret: the next version
  /// made here is above it, so a number never names two values (lua/secret_begin.lua).
  std::int64_t highest_version = 0;
};

} // namespace baton::secret
