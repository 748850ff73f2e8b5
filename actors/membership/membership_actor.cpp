// The heartbeat actor; see membership_actor.hpp.
#include "actors/membership/membership_actor.hpp"

#include <caf/all.hpp>
#include <nlohmann/json.hpp>

#include "common/log.hpp"

namespace baton::membership {
namespace {

using redis_link::redis_reply;
using redis_link::reply_kind;
using redis_link::script_call;

struct heartbeat_state {
  heartbeat_settings settings;
  redis_link::redis_link_actor link;
  bool draining = false;
  bool left = false;
  bool reachable = true; ///< the last beat reached Redis (logged on each change)
  std::uint64_t generation = 0;
  static inline const char* name = "membership";
};

using heartbeat_pointer = membership_actor::stateful_pointer<heartbeat_state>;

script_call beat_call(heartbeat_pointer self) {
  auto& st = self->state;
  auto& s = st.settings;
  nlohmann::json record = {{"address", s.address},
                           {"version", s.version},
                           {"state", st.draining ? "draining" : "active"},
                           {"sessions", s.sessions ? s.sessions->load() : 0},
                           {"started_ms", s.started_ms},
                           {"run_id", s.run_id}};
  // A beat's budget is the interval: a slower one is overtaken by the next.
  return {"node_heartbeat",
          {node_records_key(s.prefix), node_seen_key(s.prefix)},
          {s.node_id, record.dump(), std::to_string(s.ttl.count()),
           node_events_channel(s.prefix), st.draining ? "draining" : "active"},
          s.heartbeat.count()};
}

// Logs what a beat's reply says; true if it reached Redis.
bool read_beat(heartbeat_pointer self, const redis_reply& r) {
  auto& st = self->state;
  bool ok = r.kind == reply_kind::array && r.elements.size() >= 2;
  if (ok != st.reachable) {
    st.reachable = ok;
    if (ok)
      log::info("membership", "heartbeats reach redis again");
    else
      log::warn("membership", "heartbeat failed; other daemons drop this node after the ttl",
                {{"why", r.str}});
  }
  if (ok && r.elements[1].integer == 1)
    log::info("membership", "joined the fleet", {{"node", st.settings.node_id}});
  if (ok)
    for (std::size_t i = 2; i < r.elements.size(); ++i)
      log::info("membership", "swept out a node whose heartbeats stopped",
                {{"node", r.elements[i].str}});
  return ok;
}

void beat(heartbeat_pointer self) {
  auto timeout = self->state.settings.heartbeat + std::chrono::milliseconds(1000);
  self->request(self->state.link, timeout, atoms::redis_script::value, beat_call(self))
      .then([self](redis_reply& r) { read_beat(self, r); },
            [self](caf::error& e) {
              read_beat(self, redis_reply::unavailable(self->system().render(e)));
            });
}

void arm(heartbeat_pointer self) {
  self->delayed_send(self, self->state.settings.heartbeat, atoms::timer_tick::value,
                     ++self->state.generation);
}

membership_actor::behavior_type heartbeat(heartbeat_pointer self,
                                          redis_link::redis_link_actor link,
                                          heartbeat_settings settings) {
  self->state.link = std::move(link);
  self->state.settings = std::move(settings);
  beat(self);
  arm(self);
  return {
      [=](atoms::drain) -> caf::result<bool> {
        auto& st = self->state;
        st.draining = true;
        auto promise = self->make_response_promise<bool>();
        auto timeout = st.settings.heartbeat + std::chrono::milliseconds(1000);
        self->request(st.link, timeout, atoms::redis_script::value, beat_call(self))
            .then([self, promise](redis_reply& r) mutable { promise.deliver(read_beat(self, r)); },
                  [promise](caf::error&) mutable { promise.deliver(false); });
        return promise;
      },
      [=](atoms::leave) -> caf::result<bool> {
        auto& st = self->state;
        st.left = true;
        ++st.generation; // no more beats
        auto promise = self->make_response_promise<bool>();
        auto& s = st.settings;
        script_call call{"node_leave",
                         {node_records_key(s.prefix), node_seen_key(s.prefix)},
                         {s.node_id, node_events_channel(s.prefix)},
                         0};
        self->request(st.link, std::chrono::seconds(5), atoms::redis_script::value, call)
            .then([promise](redis_reply& r) mutable { promise.deliver(!r.is_error()); },
                  [promise](caf::error&) mutable { promise.deliver(false); });
        return promise;
      },
      [=](atoms::timer_tick, std::uint64_t generation) {
        if (self->state.left || generation != self->state.generation) return;
        beat(self);
        arm(self);
      },
  };
}

} // namespace

membership_actor spawn_membership(caf::actor_system& system, redis_link::redis_link_actor link,
                                  heartbeat_settings settings) {
  return system.spawn(heartbeat, std::move(link), std::move(settings));
}

} // namespace baton::membership
