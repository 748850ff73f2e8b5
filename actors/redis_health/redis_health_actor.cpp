// The Redis health sampler; see redis_health_actor.hpp.
#include "actors/redis_health/redis_health_actor.hpp"

#include <caf/all.hpp>

#include <algorithm>
#include <functional>
#include <string>
#include <vector>

#include "common/log.hpp"

namespace baton::redis_health {
namespace {

using redis_link::redis_reply;

struct sampler_state {
  sampler_settings settings;
  redis_link::redis_link_actor link;
  health_sample last;
  bool in_flight = false;
  bool retry_soon = false; ///< the last sample went unanswered: the next within a second
  std::uint64_t generation = 0;
  static inline const char* name = "redis_health";
};

using sampler_pointer = redis_health_actor::stateful_pointer<sampler_state>;

// The link answers each call within its own budget; the margin covers the hops.
std::chrono::milliseconds budget(sampler_pointer self) {
  return self->state.settings.call_timeout + std::chrono::milliseconds(1000);
}

// After a failed sample (Redis not connected yet at start, or down) the next comes within a
// second, so that the first good one after start or recovery is not a whole period late.
void arm(sampler_pointer self) {
  auto& st = self->state;
  auto delay = st.retry_soon ? std::min(st.settings.period, std::chrono::milliseconds(1000))
                            : st.settings.period;
  self->delayed_send(self, delay, atoms::timer_tick::value, ++st.generation);
}

// `unanswered`: Redis did not answer (unreachable, or past the budget), as opposed to refusing.
void publish(sampler_pointer self, std::optional<server_health> server, std::string error,
             bool unanswered = false) {
  auto& st = self->state;
  st.in_flight = false;
  st.retry_soon = unanswered;
  auto now = st.settings.unix_ms();
  bool was_good = st.last.server.has_value();
  ++st.last.samples;
  st.last.sampled_unix_ms = now;
  if (server) {
    st.last.last_good_unix_ms = now;
    if (!was_good && st.last.failures > 0) log::info("redis_health", "sampling redis again");
  } else {
    ++st.last.failures;
    if (was_good) log::warn("redis_health", "could not sample redis", {{"why", error}});
  }
  st.last.server = std::move(server);
  st.last.error = std::move(error);
  if (st.settings.publish) st.settings.publish(st.last);
  arm(self);
}

// The slow log's length, then publish. A refusal (a renamed or ACL-denied command) leaves it
// unknown (-1) rather than failing the sample: INFO alone is most of what matters.
// On a Cluster, every primary's INFO (each its own memory, keys and clients), then `then`.
// A primary that does not answer is shown failed; the others are read. Also after the main
// INFO failed: the server it reached may be the one primary that stalls.
void read_primaries(sampler_pointer self, std::function<void()> then) {
  if (!self->state.settings.each_primary) return then();
  self->request(self->state.link, budget(self), atoms::redis_each::value,
                std::vector<std::string>{"INFO"})
      .then(
          [self, then](std::vector<redis_reply>& replies) {
            self->state.last.primaries = parse_each_primary_info(replies);
            then();
          },
          [self, then](caf::error&) {
            self->state.last.primaries.clear(); // unknown, not as they were
            then();
          });
}

void read_slowlog(sampler_pointer self, server_health health) {
  auto done = [self](server_health h) {
    read_primaries(self, [self, h]() mutable { publish(self, std::move(h), {}); });
  };
  self->request(self->state.link, budget(self), atoms::redis_call::value,
                std::vector<std::string>{"SLOWLOG", "LEN"})
      .then(
          [health, done](redis_reply& r) mutable {
            health.slowlog_length = r.kind == redis_link::reply_kind::integer ? r.integer : -1;
            done(std::move(health));
          },
          [health, done](caf::error&) mutable {
            health.slowlog_length = -1;
            done(std::move(health));
          });
}

void read_latency(sampler_pointer self, server_health health) {
  self->request(self->state.link, budget(self), atoms::redis_call::value,
                std::vector<std::string>{"LATENCY", "LATEST"})
      .then(
          [self, health](redis_reply& r) mutable {
            if (!parse_latency_latest(r, health.latency)) health.latency.clear();
            read_slowlog(self, std::move(health));
          },
          [self, health](caf::error&) mutable { read_slowlog(self, std::move(health)); });
}

void sample(sampler_pointer self) {
  self->state.in_flight = true;
  self->request(self->state.link, budget(self), atoms::redis_call::value,
                std::vector<std::string>{"INFO"})
      .then(
          [self](redis_reply& r) {
            server_health health;
            if (r.is_error())
              return read_primaries(self, [self, why = r.str, unanswered = r.is_unavailable()] {
                publish(self, std::nullopt, why, unanswered);
              });
            if (!parse_info(r.str, health))
              return read_primaries(self, [self] {
                publish(self, std::nullopt, "INFO answered something that is not INFO");
              });
            read_latency(self, std::move(health));
          },
          [self](caf::error& e) {
            self->state.last.primaries.clear(); // the link did not answer: unknown
            publish(self, std::nullopt, self->system().render(e), true);
          });
}

redis_health_actor::behavior_type sampler(sampler_pointer self, redis_link::redis_link_actor link,
                                          sampler_settings settings) {
  self->state.link = std::move(link);
  self->state.settings = std::move(settings);
  if (!self->state.settings.unix_ms)
    self->state.settings.unix_ms = [] {
      return std::chrono::duration_cast<std::chrono::milliseconds>(
                 std::chrono::system_clock::now().time_since_epoch())
          .count();
    };
  sample(self);
  return {
      [=](atoms::timer_tick, std::uint64_t generation) {
        if (generation != self->state.generation || self->state.in_flight) return;
        sample(self);
      },
  };
}

} // namespace

redis_health_actor spawn_redis_health(caf::actor_system& system,
                                      redis_link::redis_link_actor link,
                                      sampler_settings settings) {
  return system.spawn(sampler, std::move(link), std::move(settings));
}

} // namespace baton::redis_health
