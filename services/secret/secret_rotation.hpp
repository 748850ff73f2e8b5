// One rotation (or PUT) of one secret, as a resumable state machine that runs on exactly one
// daemon at a time, under a lease:
//
//   lease -> begin (fence = lease token; find a half-done rotation) -> value (given, generate
//   hook, or CSPRNG) -> seal and stage as `pending` -> test hook -> promote (pending ->
//   current -> previous, announced) -> release the lease
//
// Every Redis step is a script fenced by the lease's token, so a rotator that lost its lease
// cannot write after a newer one began. A daemon killed at any step leaves the served versions
// untouched (only promotion changes them, atomically); the next rotation finds the pending
// version and finishes it (generated values: the provider may already know the new key) or
// rolls it back (a rotation that brings its own value).
#pragma once

#include <boost/asio/io_context.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "redis/redis_pool.hpp"
#include "services/secret/envelope.hpp"
#include "services/secret/hook_runner.hpp"
#include "services/secret/secret_settings.hpp"

namespace baton::secret {

struct rotation_request {
  std::string name;
  std::optional<secure_bytes> value; ///< PUT or ROTATE VALUE; else generated
  bool hooks = true;                 ///< PUT skips the hooks
  milliseconds due{0};               ///< a schedule: only if current is at least this old
  milliseconds grace{0};
  const secret_item* item = nullptr; ///< the config's entry, if any
  std::int64_t version_floor = 0;    ///< the highest version this daemon has seen
};

struct rotation_outcome {
  enum class kind { done, busy, not_due, failed, unavailable };
  kind what = kind::failed;
  std::int64_t version = 0;
  std::int64_t previous = 0;
  std::int64_t epoch = 0;
  bool finished_earlier = false; ///< it completed a half-done rotation's pending version
  std::string why;
};

/// What a rotation needs from the daemon; outlives every rotation.
struct rotation_context {
  hook_runner& hooks;
  redis_link::redis_pool& redis;
  const keyring& keys;
  const secrets_config& settings;
  std::string prefix;
  std::string node_id;
  std::string run_id;
};

/// Runs one rotation; `done` runs once on the I/O thread.
void rotate_secret(rotation_context& ctx, rotation_request request,
                   std::function<void(rotation_outcome)> done);

} // namespace baton::secret
