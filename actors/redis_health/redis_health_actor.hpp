// The Redis health sampler, as an actor: every `period` it reads INFO, LATENCY LATEST and
// SLOWLOG LEN from the server baton's keyless calls reach (the one server, the Sentinel
// master, or one Cluster primary) and, on a Cluster, INFO from every primary; never KEYS or
// anything that scans, and hands the sample to
// the reactor (`publish`), which serves it to /metrics, INFO redis_health, batonctl redis and
// the fleet page. One sample at a time: the next is due a period after the last one ended, so
// a slow Redis gets no more of these calls than a fast one; after a sample Redis did not
// answer, within a second (Redis still connecting at start, or back from an outage), but a
// refusal (an ACL without INFO) waits the whole period.
#pragma once

#include <caf/actor_system.hpp>
#include <caf/replies_to.hpp>
#include <caf/typed_actor.hpp>

#include <chrono>
#include <cstdint>
#include <functional>

#include "actors/redis_link/redis_link_actor.hpp"
#include "model/redis_health/redis_health.hpp"
#include "protocol/atoms.hpp"

namespace baton::redis_health {

struct sampler_settings {
  std::chrono::milliseconds period{5000};
  /// The link's budget per call (redis.call_timeout_ms): the link answers every call within
  /// it, so the sampler waits that and a margin, never giving up on a call the link still
  /// holds (which would let samples pile up on a slow Redis).
  std::chrono::milliseconds call_timeout{250};
  /// A Cluster: each sample also reads every primary's INFO (health_sample::primaries).
  bool each_primary = false;
  /// Runs in the actor after every sample (good or failed): posts it to the reactor.
  std::function<void(health_sample)> publish;
  /// The wall clock, for the sample's timestamps only (never for decisions); tests fix it.
  std::function<std::int64_t()> unix_ms;
};

/// The sampler's protocol:
///   (timer_tick, gen)   internal: the next sample is due
using redis_health_actor = caf::typed_actor<caf::reacts_to<atoms::timer_tick, std::uint64_t>>;

/// Samples at once, then every period.
redis_health_actor spawn_redis_health(caf::actor_system& system,
                                      redis_link::redis_link_actor link, sampler_settings settings);

} // namespace baton::redis_health
