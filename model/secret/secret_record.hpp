// One secret's record as Redis keeps it (lua/secret_*.lua): the versions with their states
// and sealed values, parsed from secret_read's reply. Holds no plaintext: opening a version
// is the envelope's job.
#pragma once

#include <cstdint>
#include <map>
#include <string>

#include "redis/redis_reply.hpp"
#include "model/secret/envelope.hpp"

namespace baton::secret {

struct version_record {
  std::string state; ///< pending, current, previous, retired
  sealed_version sealed;
  std::int64_t created_ms = 0;
  std::int64_t promoted_ms = 0;
  std::int64_t grace_until_ms = 0; ///< previous: verifies until then
  std::int64_t retired_ms = 0;
};

struct secret_record {
  std::int64_t redis_now_ms = 0; ///< Redis' clock when it was read
  std::int64_t epoch = 0;        ///< changes with every promotion and retirement
  std::string incarnation;       ///< random, new when the record is made again after a loss
  std::int64_t current = 0;      ///< 0: no such secret (yet)
  std::int64_t pending = 0;
  std::int64_t rotated_at_ms = 0;
  std::map<std::int64_t, version_record> versions;

  bool exists() const { return current != 0; }
};

/// Parses secret_read's reply; false if it is not one.
bool parse_record(const redis_link::redis_reply& reply, secret_record& out);

} // namespace baton::secret
