// Rate limits as this daemon's clients see them: RATE CHECK|PEEK|RESET against the named
// policies of the config. Redis holds the counts (lua/rate_*.lua, one call checks and charges
// every window, time from Redis TIME). Around that it keeps this host's over-limit cache,
// answers by the policy's failure mode when Redis cannot answer within the rate budget, and
// applies shadow mode.
//
// Like the lease service it runs on the I/O thread (a hop into an actor would cost more than
// the check itself, see bench/actor_hop_bench); everything reaches it by posting there.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "redis/redis_pool.hpp"
#include "redis/redis_subscriber.hpp"
#include "services/rate/local_limiter.hpp"
#include "services/rate/over_limit_cache.hpp"
#include "services/rate/rate_counters.hpp"
#include "services/rate/rate_policy.hpp"

namespace baton::rate {

using clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

struct rate_settings {
  std::string prefix = "baton";
  std::vector<rate_policy> policies;
  /// The most a check may wait for Redis before the failure mode answers.
  milliseconds budget{100};
  /// What `closed` tells a refused caller to wait: Redis is down, not the caller's limit.
  milliseconds closed_retry_after{1000};
  /// A channel every daemon subscribes to: PUBSUB NUMSUB of it counts the live daemons for
  /// the `local` failure mode's share (until membership exists).
  std::string nodes_channel;
  std::size_t cache_capacity = 100000;
};

struct rate_decision {
  enum class source { redis, cache, open, closed, local };
  bool allowed = false;
  bool limited = false; ///< the limit refused it (allowed may still be true: shadow mode)
  std::int64_t remaining = 0;
  std::int64_t reset_ms = 0;
  std::int64_t retry_after_ms = 0;
  source from = source::redis;

  bool degraded() const { return from != source::redis && from != source::cache; }
};

const char* source_name(rate_decision::source s);

class rate_service {
public:
  rate_service(redis_link::redis_pool& redis, rate_settings settings);

  /// Drops cached refusals that RATE RESET on any daemon cleared.
  void listen(redis_link::redis_subscriber& events);

  /// The policy of that name, or nullptr.
  const rate_policy* find(const std::string& name) const;

  /// RATE CHECK (`charge`) or RATE PEEK. The key and cost were validated by the caller
  /// (1 <= cost <= the policy's smallest limit).
  void check(const rate_policy& policy, const std::string& key, std::int64_t cost, bool charge,
             std::function<void(rate_decision)> done);
  /// RATE RESET: `done` gets Redis' reply (1 if the key had state, 0 if not). Idempotent: a
  /// reply lost after it was sent is asked once more (redis/idempotent_call.hpp), so an
  /// `unavailable` reply still `sent` means neither attempt was answered.
  void reset(const rate_policy& policy, const std::string& key, redis_link::reply_callback done);

  const rate_counters& counters() const { return counters_; }
  /// Live daemons as last counted (at least 1).
  std::size_t live_nodes() const { return live_nodes_; }

private:
  /// What every check of a policy sends, prepared once; compiled_[i] is settings_.policies[i].
  struct compiled_policy {
    const rate_policy* policy;
    std::size_t index;
    std::string script;     ///< "rate_<algorithm>"
    std::string key_prefix; ///< state_key_prefix: the key's state is key_prefix + key + "}"
    std::vector<std::string> window_args;
  };
  const compiled_policy& compiled(const rate_policy& policy) const;
  std::string state_key(const compiled_policy& p, const std::string& key) const {
    return p.key_prefix + key + "}";
  }
  rate_decision degrade(const compiled_policy& p, const std::string& key, std::int64_t cost,
                        bool charge, const std::string& why);
  /// Finishes a decision: shadow mode, counters.
  void settle(const compiled_policy& p, rate_decision& d, bool charge);
  void refresh_live_nodes(clock::time_point now);

  redis_link::redis_pool& redis_;
  rate_settings settings_;
  std::vector<compiled_policy> compiled_;
  rate_counters counters_;
  over_limit_cache cache_;
  local_limiter local_;
  std::size_t live_nodes_ = 1;
  clock::time_point nodes_counted_at_{};
  bool counting_nodes_ = false;
  bool degraded_ = false; ///< the last answer was degraded (logged on each change)
};

} // namespace baton::rate
