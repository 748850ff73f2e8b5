// Secrets as this daemon's clients see them: SECRET GET and VERIFY answered from memory (no
// Redis round trip), from the snapshots the secret cache actor publishes
// (actors/secret_cache: it keeps them fresh by announcements, acknowledgements and a periodic
// refresh), with a reload when a VERIFY does not match (the caller may hold a version newer
// than this cache). While Redis is unreachable the cached versions keep being served, and
// answers say they are degraded. Usage counts and the audit trail are kept here. Rotations are
// actors (actors/secret_rotation): this service starts them, keeps their handles and hears
// their outcome posted back onto the I/O thread.
//
// Runs on the I/O thread, like the lease and rate services.
#pragma once

#include <boost/asio/io_context.hpp>

#include <array>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <unordered_map>
#include <variant>
#include <vector>

#include "actors/secret_cache/secret_cache_actor.hpp"
#include "actors/secret_rotation/rotation_actor.hpp"
#include "model/secret/envelope.hpp"
#include "model/secret/secret_record.hpp"
#include "model/secret/secret_settings.hpp"
#include "model/secret/served_secret.hpp"
#include "protocol/result.hpp"
#include "redis/redis_pool.hpp"
#include "redis/redis_subscriber.hpp"
#include "services/secret/secret_audit.hpp"

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

/// GET: the current version's plaintext (for the reply only).
struct secret_value {
  std::string value;
  std::int64_t version = 0;
  std::string state; ///< "current"
  bool degraded = false;
  std::int64_t epoch = 0;
};

/// VERIFY: the candidate is a version served here (current, or previous within its grace).
struct secret_match {
  std::int64_t version = 0;
  std::string state; ///< "current" or "previous"
  bool degraded = false;
  std::int64_t epoch = 0;
};
/// VERIFY: the candidate is none of the versions served here.
struct secret_no_match {
  bool degraded = false;
  std::int64_t epoch = 0;
};
using verify_verdict = std::variant<secret_match, secret_no_match>;

/// INFO: the record, the nodes' acknowledgements and the uses per version.
struct secret_info {
  secret_record record;
  std::vector<node_ack> nodes;
  std::map<std::int64_t, std::int64_t> uses;
};

/// PUT and ROTATE: the new current version.
struct secret_changed {
  std::int64_t version = 0;
  std::int64_t previous = 0;
  std::int64_t epoch = 0;
  bool finished_pending = false; ///< it finished a half-done rotation's pending version
};

/// REWRAP: how many data keys were wrapped again, were already under the active KEK, failed.
struct rewrap_totals {
  std::int64_t rewrapped = 0, already = 0, skipped = 0;
};

/// The failures of a secret call: unavailable (Redis unreachable and nothing to answer
/// from), err (cannot decrypt; a rotation failed), busy (a rotation runs elsewhere).
/// GET, VERIFY and INFO answer nullopt for a secret that does not exist.
template <class T>
using secret_callback = std::function<void(protocol::result<T>)>;

struct secret_service_settings {
  std::string prefix = "baton";
  std::string node_id = "node";
  std::string run_id = "run";
  secrets_config config;
  bool sharded_watch = false; ///< a Cluster: rotation leases announce with SPUBLISH
};

class secret_service {
public:
  /// `keys` outlives the service (main holds it; sessions use it too).
  secret_service(boost::asio::io_context& io, redis_link::redis_pool& redis, const keyring& keys,
                 secret_service_settings settings);
  ~secret_service();

  /// Rotations run as actors of `system`, reaching Redis through `link` and hooks through
  /// `hooks`; until this is called (and after stop) a rotation fails (ERR).
  void use_actors(caf::actor_system& system, redis_link::redis_link_actor link,
                  hook_runner_actor hooks, std::shared_ptr<const keyring> keys);

  /// Follows the announcements; loads the configured secrets; starts the refresh timer.
  void start(redis_link::redis_subscriber& events);
  void stop();
  /// The cache actor, for the daemon to stop with the others (also when it never served).
  caf::actor_addr cache_address() const { return cache_.address(); }

  void get(const std::string& name, secret_caller who,
           secret_callback<std::optional<secret_value>> done);
  void verify(const std::string& name, std::string candidate, secret_caller who,
              secret_callback<std::optional<verify_verdict>> done);
  void info(const std::string& name, secret_caller who,
            secret_callback<std::optional<secret_info>> done);
  /// INFO without the audit record: for the fleet page, which reads every configured secret
  /// each time it refreshes and would otherwise fill the audit trail with its reads.
  void describe(const std::string& name, secret_callback<std::optional<secret_info>> done);
  /// PUT (value set, no hooks) and ROTATE (value optional, hooks).
  void change(const std::string& name, std::optional<secure_bytes> value, bool hooks,
              const std::string& command, secret_caller who, secret_callback<secret_changed> done);
  /// Re-wraps every data key (of `name`, or of all secrets) under the active KEK.
  void rewrap(const std::optional<std::string>& name, secret_caller who,
              secret_callback<rewrap_totals> done);
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
  /// The names local clients watch (SECRET WATCH): each refresh they count as used, so that
  /// the cache does not evict them for names that are only read.
  void on_collect_watched(std::function<std::vector<std::string>()> f) { watched_ = std::move(f); }

  const secrets_config& config() const { return settings_.config; }
  /// Appends baton_secret_* metrics (Prometheus text; no secret names, no values).
  void render_metrics(std::string& out) const;

private:
  /// Asks the cache to read `name` from Redis; `done(ok)` runs (on this thread) once this
  /// daemon serves what Redis had after the call, or the read failed.
  void load(const std::string& name, std::function<void(bool)> done = nullptr);
  /// Answers from memory once the entry has loaded, loading it first if needed; nullptr if
  /// it could not be (Redis unreachable, or too many names cached).
  void with_entry(const std::string& name, std::function<void(const served_secret*, bool)> use);
  void on_cache_news(std::vector<cache_news> news);
  void rotate_on_schedule(const std::string& name, std::int64_t version_floor);
  void count_use(const std::string& name, std::int64_t version);
  milliseconds grace_of(const std::string& name) const;
  bool degraded(const served_secret& entry) const;
  void rewrap_names(std::shared_ptr<std::vector<std::string>> names, std::size_t next,
                    std::shared_ptr<rewrap_totals> total, secret_caller who,
                    secret_callback<rewrap_totals> done);
  void scan_names(std::shared_ptr<std::vector<std::string>> names,
                  std::function<void(bool)> done);

  redis_link::redis_pool& redis_;
  const keyring& keys_;
  secret_service_settings settings_;
  /// Starts a rotation actor; `then` runs on the I/O thread with its result.
  void rotate(rotation_request request, rotation_callback then);

  boost::asio::io_context& io_;
  caf::actor_system* actors_ = nullptr;
  std::shared_ptr<const rotation_deps> rotation_deps_;
  std::unordered_map<std::uint64_t, caf::actor> rotations_; ///< running, by id: stop() ends them
  /// What runs with each rotation's outcome, kept on this thread (not in the actor).
  std::unordered_map<std::uint64_t, rotation_callback> rotation_callbacks_;
  std::uint64_t next_rotation_ = 0;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true); ///< outcomes posted after we die
  secret_audit audit_;
  /// What this daemon serves, as the cache last published it; read only on this thread.
  std::unordered_map<std::string, std::shared_ptr<const served_secret>> served_;
  secret_cache_actor cache_;
  std::shared_ptr<secret_cache_counters> cache_counters_;
  /// What runs when a load asked for by this thread is over, by id (kept here, not in the
  /// actor: it may hold a client's connection).
  std::unordered_map<std::uint64_t, std::function<void(bool)>> load_waiters_;
  std::uint64_t next_load_ = 0;
  /// Uses counted since the cache last collected them: name -> version -> uses.
  std::unordered_map<std::string, std::map<std::int64_t, std::int64_t>> unflushed_uses_;
  std::function<void(const std::string&, std::int64_t, std::int64_t)> changed_;
  std::function<std::vector<std::string>()> watched_;
  std::set<std::string> rotating_; ///< names whose scheduled rotation is in flight
  struct counters {
    std::uint64_t gets = 0, verified_current = 0, verified_previous = 0, not_matched = 0;
    std::uint64_t rotations_done = 0, rotations_failed = 0, rotations_busy = 0;
    std::uint64_t degraded = 0, refusals = 0;
  } counters_;
  bool stopped_ = false;
};

} // namespace baton::secret
