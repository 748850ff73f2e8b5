// Secrets as this daemon's clients see them: SECRET GET and VERIFY answered from memory (no
// Redis round trip), kept fresh by the announcements of every promotion and retirement, by a
// periodic acknowledgement that also catches a missed announcement, and by a reload when a
// VERIFY does not match (the caller may hold a version newer than this cache). While Redis is
// unreachable the cached versions keep being served, and answers say they are degraded.
// Usage counts, retirement and the audit trail hang off here. Rotations are actors
// (actors/secret_rotation): this service starts them, keeps their handles and hears their
// outcome posted back onto the I/O thread.
//
// Runs on the I/O thread, like the lease and rate services.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

#include <array>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

#include "redis/redis_pool.hpp"
#include "redis/redis_subscriber.hpp"
#include "model/secret/envelope.hpp"
#include "services/secret/secret_audit.hpp"
#include "model/secret/secret_record.hpp"
#include "actors/secret_rotation/rotation_actor.hpp"
#include "model/secret/secret_settings.hpp"

namespace baton::secret {

using clock = std::chrono::steady_clock;

/// Who asks, for the audit trail (from SO_PEERCRED; -1 for the daemon's own schedule).
struct secret_caller {
  std::int64_t uid = -1;
  std::int64_t pid = 0;
};

struct node_ack {
  std::string node;
  std::int64_t version = 0;
  std::int64_t age_ms = 0;
};

struct secret_answer {
  enum class kind {
    value,
    match,
    no_match,
    absent,
    changed,
    info,
    rewrapped,
    unavailable,
    failed,
    busy
  };
  kind what = kind::failed;
  std::string value; ///< GET: the plaintext, for the reply only
  std::int64_t version = 0;
  std::string state; ///< current or previous
  bool degraded = false;
  std::int64_t epoch = 0;
  std::int64_t previous = 0;
  std::string why;
  // INFO
  secret_record record;
  std::vector<node_ack> nodes;
  std::map<std::int64_t, std::int64_t> uses;
  // REWRAP
  std::int64_t rewrapped = 0, already = 0, skipped = 0;
};

using secret_callback = std::function<void(secret_answer)>;

struct secret_service_settings {
  std::string prefix = "baton";
  std::string node_id = "node";
  std::string run_id = "run";
  secrets_config config;
};

class secret_service {
public:
  /// `keys` outlives the service (main holds it; sessions use it too).
  secret_service(boost::asio::io_context& io, redis_link::redis_pool& redis, const keyring& keys,
                 secret_service_settings settings);
  ~secret_service();

  /// Rotations run as actors of `system`, reaching Redis through `link` and hooks through
  /// `hooks`; until this is called (and after stop) a rotation answers `failed`.
  void use_actors(caf::actor_system& system, redis_link::redis_link_actor link,
                  hook_runner_actor hooks, std::shared_ptr<const keyring> keys);

  /// Follows the announcements; loads the configured secrets; starts the refresh timer.
  void start(redis_link::redis_subscriber& events);
  void stop();

  void get(const std::string& name, secret_caller who, secret_callback done);
  void verify(const std::string& name, std::string candidate, secret_caller who,
              secret_callback done);
  void info(const std::string& name, secret_caller who, secret_callback done);
  /// PUT (value set, no hooks) and ROTATE (value optional, hooks).
  void change(const std::string& name, std::optional<secure_bytes> value, bool hooks,
              const std::string& command, secret_caller who, secret_callback done);
  /// Re-wraps every data key (of `name`, or of all secrets) under the active KEK.
  void rewrap(const std::optional<std::string>& name, secret_caller who, secret_callback done);
  /// Keeps `name` in this daemon's cache (SECRET WATCH), so that its changes reach here and
  /// are pushed even if no one here reads it; `done` runs once it is loaded (or could not be),
  /// so that every version after it is pushed.
  void follow(const std::string& name, std::function<void()> done);
  /// Records a refusal (or any other event decided outside) in the audit trail.
  void audit(secret_caller who, const std::string& command, const std::string& name,
             const std::string& result);

  /// Runs when this daemon starts serving a new current version of a secret.
  void
  on_changed(std::function<void(const std::string& name, std::int64_t version, std::int64_t epoch)>
                 handler) {
    changed_ = std::move(handler);
  }

  const secrets_config& config() const { return settings_.config; }
  /// Appends baton_secret_* metrics (Prometheus text; no secret names, no values).
  void render_metrics(std::string& out) const;

private:
  struct served_version {
    std::int64_t version = 0;
    secure_bytes value;
    std::array<unsigned char, 32> digest{};
    clock::time_point verify_until = clock::time_point::max(); ///< previous: its grace end
    std::string ciphertext; ///< what it was opened from (not secret): reused while unchanged
  };
  struct cached_secret {
    bool loaded = false; ///< a load has completed (the entry answers from memory)
    bool exists = false;
    std::int64_t epoch = -1;
    std::int64_t rotated_at_ms = 0;
    std::optional<served_version> current;
    std::vector<served_version> previous;
    std::string error;       ///< the current version could not be opened
    bool stale = false;      ///< the last load failed: serving what an earlier load found
    bool retire_due = false; ///< a previous version's grace is over: Redis should retire it
    // A load in flight, and who waits for the one after it.
    bool loading = false;
    bool again = false;
    std::vector<std::function<void(bool)>> waiting;      ///< the load in flight
    std::vector<std::function<void(bool)>> next_waiting; ///< the load after it
    std::map<std::int64_t, std::int64_t> unflushed_uses;
    /// The highest version ever seen here, kept when Redis loses the secret: the next version
    /// made here is above it, so a number never names two values (lua/secret_begin.lua).
    std::int64_t highest_version = 0;
  };

  /// Loads (or reloads) one secret; `done(true)` once the cache holds what Redis had after
  /// this call was made.
  void load(const std::string& name, std::function<void(bool)> done = nullptr);
  void start_load(const std::string& name);
  void apply(const std::string& name, cached_secret& entry, const secret_record& record);
  /// Answers from memory once the entry has loaded, loading it first if needed.
  void with_entry(const std::string& name, std::function<void(cached_secret*, bool)> use);
  void acknowledge(const std::string& name, std::int64_t version);
  void refresh();
  void arm_refresh();
  void on_announcement(const std::string& payload);
  std::int64_t estimated_redis_ms() const;
  milliseconds grace_of(const std::string& name) const;
  bool degraded(const cached_secret& entry) const;
  void rewrap_names(std::shared_ptr<std::vector<std::string>> names, std::size_t next,
                    std::shared_ptr<secret_answer> total, secret_caller who, secret_callback done);
  void scan_names(std::string cursor, std::shared_ptr<std::vector<std::string>> names,
                  std::function<void(bool)> done);

  redis_link::redis_pool& redis_;
  const keyring& keys_;
  secret_service_settings settings_;
  /// Starts a rotation actor; `then` runs on the I/O thread with its outcome.
  void rotate(rotation_request request, std::function<void(rotation_outcome)> then);

  boost::asio::io_context& io_;
  caf::actor_system* actors_ = nullptr;
  std::shared_ptr<const rotation_deps> rotation_deps_;
  std::unordered_map<std::uint64_t, caf::actor> rotations_; ///< running, by id: stop() ends them
  /// What runs with each rotation's outcome, kept on this thread (not in the actor).
  std::unordered_map<std::uint64_t, std::function<void(rotation_outcome)>> rotation_callbacks_;
  std::uint64_t next_rotation_ = 0;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true); ///< outcomes posted after we die
  secret_audit audit_;
  std::unordered_map<std::string, cached_secret> cache_;
  std::function<void(const std::string&, std::int64_t, std::int64_t)> changed_;
  boost::asio::steady_timer refresh_timer_;
  std::int64_t redis_offset_ms_ = 0;     ///< Redis' clock minus this host's, as last read
  std::set<std::string> rotating_; ///< names whose scheduled rotation is in flight
  struct counters {
    std::uint64_t gets = 0, verified_current = 0, verified_previous = 0, not_matched = 0;
    std::uint64_t rotations_done = 0, rotations_failed = 0, rotations_busy = 0;
    std::uint64_t reloads = 0, degraded = 0, decrypt_failures = 0, refusals = 0;
  } counters_;
  bool stopped_ = false;
};

} // namespace baton::secret
