// The fleet side of breakers; see breaker_fleet_actor.hpp.
#include "actors/breaker/breaker_fleet_actor.hpp"

#include <caf/all.hpp>
#include <optional>

#include <algorithm>
#include <unordered_map>

#include "actors/support/wake_timer.hpp"
#include "common/log.hpp"
#include "model/breaker/breaker_keys.hpp"

namespace baton::breaker {
namespace {

using std::chrono::milliseconds;
using time_point = caf::actor_clock::time_point;
using redis_link::redis_reply;
using redis_link::reply_kind;
using redis_link::script_call;

/// The backstop if the link itself is gone; the link answers sooner with its own budget.
constexpr auto call_timeout = std::chrono::seconds(5);

/// One breaker as the fleet side follows it.
struct followed {
  fleet_rules rules;
  std::int64_t generation = 0; ///< the highest fleet generation seen: every script's floor
  bool trip_in_flight = false;
  bool probe_in_flight = false;
  bool wants_probe = false; ///< half-open fleet-wide and this host does not hold the probe
  time_point probe_at{};    ///< when to ask (again)
  /// A read of the fleet's state that Redis did not answer (its link was still reconnecting
  /// when the event connection came back): read again then, or an announcement missed while
  /// the events were down would stay missed.
  std::optional<time_point> read_again_at;
  bool read_again_resync = false;
};

struct fleet_state {
  fleet_settings settings;
  redis_link::redis_link_actor link;
  std::unordered_map<std::string, followed> breakers;
  actors::wake_timer timer;
  time_point next_collect{};
  std::vector<fleet_news> outbox; ///< told at the end of the message that produced it
  static inline const char* name = "breaker_fleet";
};

using fleet_pointer = breaker_fleet_actor::stateful_pointer<fleet_state>;

void flush(fleet_pointer self) {
  auto& st = self->state;
  if (st.outbox.empty()) return;
  auto news = std::move(st.outbox);
  st.outbox.clear();
  if (st.settings.tell) st.settings.tell(std::move(news));
}

void arm(fleet_pointer self) {
  auto& st = self->state;
  auto next = st.next_collect;
  for (const auto& [name, b] : st.breakers)
    if (b.wants_probe && !b.probe_in_flight) next = std::min(next, b.probe_at);
  st.timer.wake_at(self, next);
}

void adopt(fleet_pointer self, const std::string& name, breaker_state state,
           std::int64_t generation, std::int64_t open_ms, const std::string& node, int trips,
           bool resync = false) {
  auto& b = self->state.breakers[name];
  b.generation = std::max(b.generation, generation);
  fleet_news n;
  n.what = fleet_news::kind::adopt;
  n.name = name;
  n.shared.state = state;
  n.shared.generation = generation;
  n.shared.open_remaining = milliseconds(std::max<std::int64_t>(open_ms, 0));
  n.shared.tripped_by = node;
  n.shared.consecutive_trips = trips;
  n.shared.resync = resync;
  self->state.outbox.push_back(std::move(n));
}

template <class Reply>
void run(fleet_pointer self, script_call call, Reply on_reply) {
  self->request(self->state.link, call_timeout, atoms::redis_script::value, std::move(call))
      .then(
          [self, on_reply](redis_reply& r) {
            on_reply(r);
            arm(self);
            flush(self);
          },
          [self, on_reply](caf::error&) {
            on_reply(redis_reply::unavailable("no answer from the redis link"));
            arm(self);
            flush(self);
          });
}

bool is_array(const redis_reply& r, std::size_t size) {
  return r.kind == reply_kind::array && r.elements.size() >= size;
}

// -- reading the fleet's state -------------------------------------------------------------

void read_and_adopt(fleet_pointer self, const std::string& name, bool resync = false) {
  auto& st = self->state;
  auto keys = keys_for(st.settings.prefix, name);
  auto window = std::to_string(st.breakers[name].rules.window_ms);
  run(self,
      script_call{"breaker_read", {keys.state, keys.probe, keys.trips, keys.counts}, {window}, 0},
      [self, name, resync](const redis_reply& r) {
        auto& f = self->state.breakers[name];
        if (!is_array(r, 8)) {
          f.read_again_at = self->clock().now() + self->state.settings.probe_retry;
          f.read_again_resync = f.read_again_resync || resync;
          return;
        }
        f.read_again_at.reset();
        f.read_again_resync = false;
        auto state = parse_state(r.elements[1].str);
        auto generation = r.elements[2].integer;
        // Redis never heard of it: nothing to adopt, unless this host must take Redis' word.
        if (!state || (generation == 0 && !resync)) return;
        adopt(self, name, *state, generation, r.elements[3].integer, r.elements[4].str,
              static_cast<int>(r.elements[6].integer), resync);
        auto& b = self->state.breakers[name];
        b.wants_probe = *state == breaker_state::half_open;
        b.probe_at = self->clock().now();
      });
}

// -- the probe -----------------------------------------------------------------------------

void ask_for_probe(fleet_pointer self, const std::string& name) {
  auto& st = self->state;
  auto& b = st.breakers[name];
  if (b.probe_in_flight) return;
  b.probe_in_flight = true;
  auto keys = keys_for(st.settings.prefix, name);
  // The key lives two probe timeouts; this host admits a probe for one timeout from now (the
  // request's send), and that probe may run one more: the key outlives them.
  script_call call{"breaker_probe",
                   {keys.state, keys.probe},
                   {st.settings.node_id, std::to_string(2 * b.rules.probe_ttl_ms),
                    std::to_string(b.generation), events_channel(st.settings.prefix), name},
                   0};
  auto sent = self->clock().now();
  run(self, std::move(call), [self, name, sent](const redis_reply& r) {
    auto& fb = self->state.breakers[name];
    fb.probe_in_flight = false;
    auto now = self->clock().now();
    auto ttl = milliseconds(fb.rules.probe_ttl_ms);
    auto retry = std::min(self->state.settings.probe_retry, ttl);
    if (is_array(r, 2) && r.elements[0].integer == 1) {
      fb.generation = std::max(fb.generation, r.elements[1].integer);
      fleet_news n;
      n.what = fleet_news::kind::probe_granted;
      n.name = name;
      // Counted from the request's send: the key was set after it.
      n.probe_ttl =
          std::max(milliseconds(0), ttl - std::chrono::duration_cast<milliseconds>(now - sent));
      // The half-open period the probe belongs to: adopted before the probe is admitted, so
      // that its announcement, arriving later, is no news and admits no second probe.
      n.shared.state = breaker_state::half_open;
      n.shared.generation = r.elements[1].integer;
      n.shared.tripped_by = self->state.settings.node_id;
      self->state.outbox.push_back(std::move(n));
      // Still half-open once the probe's TTL ran out: its caller never reported. Ask again.
      fb.wants_probe = true;
      fb.probe_at = now + ttl;
      return;
    }
    if (!is_array(r, 4)) { // Redis unreachable: ask again later
      fb.probe_at = now + retry;
      return;
    }
    const auto& state = r.elements[1].str;
    if (state == "open") {
      // Redis' open time ends a little after this host's clock said: ask when it does.
      auto left = std::strtoll(r.elements[3].str.c_str(), nullptr, 10);
      fb.probe_at = now + std::max(milliseconds(left), milliseconds(5));
    } else if (state == "half-open") {
      fb.probe_at = now + retry; // another host holds it; it may vanish
    } else {
      // Closed or forced while this host thought it half-open: take Redis' word for it.
      fb.wants_probe = false;
      read_and_adopt(self, name, true);
    }
  });
}

// -- this host's moves ---------------------------------------------------------------------

void trip(fleet_pointer self, const std::string& name) {
  auto& st = self->state;
  auto& b = st.breakers[name];
  if (b.trip_in_flight) return;
  b.trip_in_flight = true;
  auto keys = keys_for(st.settings.prefix, name);
  const auto& rules = b.rules;
  script_call call{"breaker_trip",
                   {keys.state, keys.trips, keys.probe},
                   {st.settings.node_id, std::to_string(rules.hosts_needed),
                    std::to_string(rules.window_ms), std::to_string(rules.open_ms),
                    std::to_string(rules.backoff), std::to_string(rules.max_open_ms),
                    std::to_string(b.generation), events_channel(st.settings.prefix), name},
                   0};
  run(self, std::move(call), [self, name](const redis_reply& r) {
    auto& fb = self->state.breakers[name];
    fb.trip_in_flight = false;
    if (!is_array(r, 3)) return; // Redis unreachable: this host stays open on its own
    auto status = r.elements[0].integer;
    if (status == 1 && is_array(r, 4))
      adopt(self, name, breaker_state::open, r.elements[1].integer, r.elements[2].integer,
            self->state.settings.node_id, static_cast<int>(r.elements[3].integer));
    else if (status == 2 && r.elements[2].integer > fb.generation)
      read_and_adopt(self, name); // open or forced fleet-wide already, and we had not heard
  });
}

void settle(fleet_pointer self, const std::string& name, bool passed) {
  auto& st = self->state;
  auto& b = st.breakers[name];
  b.wants_probe = false;
  auto keys = keys_for(st.settings.prefix, name);
  const auto& rules = b.rules;
  script_call call{"breaker_settle",
                   {keys.state, keys.probe, keys.trips},
                   {st.settings.node_id, passed ? "ok" : "fail", std::to_string(rules.open_ms),
                    std::to_string(rules.backoff), std::to_string(rules.max_open_ms),
                    std::to_string(b.generation), events_channel(st.settings.prefix), name},
                   0};
  run(self, std::move(call), [self, name](const redis_reply& r) {
    if (is_array(r, 5) && r.elements[0].integer == 1) {
      if (auto state = parse_state(r.elements[1].str))
        adopt(self, name, *state, r.elements[2].integer, r.elements[3].integer,
              self->state.settings.node_id, static_cast<int>(r.elements[4].integer));
    } else if (is_array(r, 3)) {
      // Not the holder any more (its key expired and another host took the probe), or no
      // longer half-open: this host's own close or re-open was not the fleet's. Take Redis'.
      read_and_adopt(self, name, true);
    }
  });
}

void on_move(fleet_pointer self, const breaker_move& m) {
  auto& b = self->state.breakers[m.rules.name];
  b.rules = m.rules;
  b.generation = std::max(b.generation, m.generation_floor);
  switch (static_cast<breaker_move::kind>(m.what)) {
  case breaker_move::kind::tripped:
    b.wants_probe = false;
    return trip(self, m.rules.name);
  case breaker_move::kind::probe_due:
    b.wants_probe = true;
    b.probe_at = self->clock().now();
    return ask_for_probe(self, m.rules.name);
  case breaker_move::kind::probe_passed:
    return settle(self, m.rules.name, true);
  case breaker_move::kind::probe_failed:
    return settle(self, m.rules.name, false);
  case breaker_move::kind::settled:
    b.wants_probe = false;
    return;
  }
}

void on_announcement(fleet_pointer self, const std::string& payload) {
  auto a = parse_announcement(payload);
  if (!a) return;
  auto it = self->state.breakers.find(a->name);
  if (it != self->state.breakers.end()) {
    auto& b = it->second;
    if (a->node != self->state.settings.node_id) {
      // Half-open elsewhere: another host took the probe; be ready to take over from it.
      b.wants_probe = a->state == breaker_state::half_open;
      b.probe_at = self->clock().now() +
                   std::min(self->state.settings.probe_retry, milliseconds(b.rules.probe_ttl_ms));
    }
  }
  adopt(self, a->name, a->state, a->generation, a->open_ms, a->node, a->trips);
}

void write_counts(fleet_pointer self, const std::vector<breaker_count>& counts) {
  auto& st = self->state;
  if (counts.empty()) return;
  std::vector<script_call> calls;
  auto ttl = std::to_string((st.settings.sync_interval * 5).count());
  for (const auto& c : counts)
    calls.push_back({"breaker_counts",
                     {keys_for(st.settings.prefix, c.name).counts},
                     {st.settings.node_id, std::to_string(c.calls), std::to_string(c.failures),
                      std::to_string(c.slow), ttl},
                     0});
  self->request(st.link, call_timeout, atoms::redis_batch::value, std::move(calls))
      .then([](std::vector<redis_reply>&) {}, [](caf::error&) {});
}

void on_tick(fleet_pointer self) {
  auto& st = self->state;
  auto now = self->clock().now();
  if (now >= st.next_collect) {
    fleet_news n;
    n.what = fleet_news::kind::collect;
    st.outbox.push_back(std::move(n));
    st.next_collect = now + st.settings.sync_interval;
  }
  std::vector<std::string> due;
  for (const auto& [name, b] : st.breakers)
    if (b.wants_probe && !b.probe_in_flight && b.probe_at <= now) due.push_back(name);
  for (const auto& name : due)
    ask_for_probe(self, name);
  std::vector<std::pair<std::string, bool>> reads;
  for (auto& [name, b] : st.breakers)
    if (b.read_again_at && *b.read_again_at <= now) {
      b.read_again_at.reset();
      reads.emplace_back(name, b.read_again_resync);
    }
  for (const auto& [name, resync] : reads)
    read_and_adopt(self, name, resync);
}

breaker_fleet_actor::behavior_type
fleet_behavior(fleet_pointer self, redis_link::redis_link_actor link, fleet_settings settings) {
  self->state.link = std::move(link);
  self->state.settings = std::move(settings);
  self->state.next_collect = self->clock().now() + self->state.settings.sync_interval;
  arm(self);
  auto then = [self] {
    arm(self);
    flush(self);
  };
  return {
      [self, then](atoms::moved, const breaker_move& m) {
        on_move(self, m);
        then();
      },
      [self, then](atoms::announce, const std::string& payload) {
        on_announcement(self, payload);
        then();
      },
      [self, then](atoms::sync, const std::vector<fleet_rules>& rules) {
        for (const auto& r : rules) {
          self->state.breakers[r.name].rules = r;
          read_and_adopt(self, r.name);
        }
        then();
      },
      [self](atoms::counts, const std::vector<breaker_count>& counts) {
        write_counts(self, counts);
      },
      [self, then](atoms::timer_tick, std::uint64_t generation) {
        if (!self->state.timer.fired(generation)) return;
        on_tick(self);
        then();
      },
  };
}

} // namespace

breaker_fleet_actor spawn_breaker_fleet(caf::actor_system& system,
                                        redis_link::redis_link_actor link,
                                        fleet_settings settings) {
  return system.spawn(fleet_behavior, std::move(link), std::move(settings));
}

} // namespace baton::breaker
