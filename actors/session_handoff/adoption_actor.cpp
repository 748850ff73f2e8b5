// The adoption actor; see adoption_actor.hpp.
#include "actors/session_handoff/adoption_actor.hpp"

#include <caf/all.hpp>

#include <atomic>

#include "common/log.hpp"
#include "model/lease/reserved_names.hpp"
#include "model/lease/task_lease.hpp"
#include "model/membership/node_list.hpp"
#include "model/session/handoff_targets.hpp"
#include "model/session/session_keys.hpp"

namespace baton::session {
namespace {

using redis_link::redis_reply;
using redis_link::reply_kind;
using redis_link::script_call;

struct adoption_state {
  adoption_deps deps;
  std::string dead_node;
  std::function<void(adoption_outcome)> done;
  lease::task_lease lease;
  adoption_step step = adoption_step::taking_lease;
  std::optional<handoff_targets> targets;
  std::vector<std::string> unindex; ///< ids the dead node's index should forget
  adoption_outcome outcome;
  static inline const char* name = "session_adoption";
};

using adoption_pointer = caf::stateful_actor<adoption_state>*;

void enter(adoption_pointer self, adoption_step step) {
  self->state.step = step;
  if (self->state.deps.on_step) self->state.deps.on_step(step);
}

/// One batch through the link; a CAF error reads as every call unavailable.
template <class F>
void batch(adoption_pointer self, std::vector<script_call> calls, F then) {
  auto n = calls.size();
  self->request(self->state.deps.link, self->state.deps.lease_ttl, atoms::redis_batch::value,
                std::move(calls))
      .then([then](std::vector<redis_reply>& r) mutable { then(r); },
            [then, n](caf::error&) mutable {
              then(std::vector<redis_reply>(n, redis_reply::unavailable("no answer")));
            });
}

void finish(adoption_pointer self) {
  auto& st = self->state;
  if (st.step == adoption_step::done) return;
  enter(self, adoption_step::done);
  if (!st.lease.token.empty())
    self->send(st.deps.link, atoms::redis_script::value, lease::task_lease_release_call(st.lease));
  if (st.outcome.adopter)
    log::info("session", "adopted the sessions of a node whose heartbeats stopped",
              {{"node", st.dead_node}, {"sessions", std::to_string(st.outcome.adopted)}});
  if (auto done = std::move(st.done)) done(st.outcome);
  self->quit();
}

void unindex(adoption_pointer self) {
  auto& st = self->state;
  if (st.unindex.empty()) return finish(self);
  enter(self, adoption_step::unindexing);
  std::vector<script_call> calls;
  for (const auto& id : st.unindex)
    calls.push_back({"session_index",
                     {node_sessions_key(st.deps.prefix, st.dead_node)},
                     {"remove", id, "0"},
                     0});
  batch(self, std::move(calls), [self](const std::vector<redis_reply>&) { finish(self); });
}

void move(adoption_pointer self, std::vector<std::pair<std::string, std::string>> sessions) {
  auto& st = self->state;
  if (sessions.empty()) return unindex(self);
  enter(self, adoption_step::moving);
  auto channel = session_events_channel(st.deps.prefix);
  std::vector<script_call> calls;
  std::vector<std::string> ids;
  for (const auto& [id, epoch] : sessions) {
    // No new nonce: the client's last token still resumes it.
    calls.push_back({"session_move",
                     {session_key(st.deps.prefix, id)},
                     {st.dead_node, epoch, st.targets->next().id, "", channel, id},
                     0});
    ids.push_back(id);
  }
  batch(self, std::move(calls), [self, ids](const std::vector<redis_reply>& replies) {
    auto& state = self->state;
    for (std::size_t i = 0; i < ids.size(); ++i) {
      const auto& m = replies[i];
      if (m.kind == reply_kind::array && !m.elements.empty() && m.elements[0].integer == 1) {
        ++state.outcome.adopted;
        state.unindex.push_back(ids[i]);
      }
    }
    unindex(self);
  });
}

// The value of `field` in a session_read reply (fields from element 2 on).
std::string field(const redis_reply& r, const std::string& name) {
  for (std::size_t i = 2; i + 1 < r.elements.size(); i += 2)
    if (r.elements[i].str == name) return r.elements[i + 1].str;
  return {};
}

void read_sessions(adoption_pointer self, std::vector<std::string> ids) {
  auto& st = self->state;
  st.outcome.found = ids.size();
  if (ids.empty()) return finish(self);
  enter(self, adoption_step::reading_sessions);
  std::vector<script_call> calls;
  for (const auto& id : ids)
    calls.push_back({"session_read", {session_key(st.deps.prefix, id)}, {}, 0});
  batch(self, std::move(calls), [self, ids](const std::vector<redis_reply>& replies) {
    auto& state = self->state;
    std::vector<std::pair<std::string, std::string>> to_move;
    for (std::size_t i = 0; i < ids.size(); ++i) {
      const auto& s = replies[i];
      if (s.is_error()) continue; // unknown: left in the index for a later adopter
      if (s.kind != reply_kind::array || s.elements.size() < 2 || s.elements[1].integer < 0) {
        state.unindex.push_back(ids[i]); // expired: only the index remembered it
        continue;
      }
      if (field(s, "owner") != state.dead_node) continue; // resumed elsewhere already
      to_move.emplace_back(ids[i], field(s, "epoch"));
    }
    move(self, std::move(to_move));
  });
}

void read_index(adoption_pointer self) {
  enter(self, adoption_step::reading_index);
  auto& st = self->state;
  self->request(st.deps.link, st.deps.lease_ttl, atoms::redis_call::value,
                std::vector<std::string>{"ZRANGE", node_sessions_key(st.deps.prefix, st.dead_node),
                                         "0", "-1"})
      .then(
          [self](redis_reply& r) {
            std::vector<std::string> ids;
            if (r.kind == reply_kind::array)
              for (const auto& e : r.elements)
                ids.push_back(e.str);
            read_sessions(self, std::move(ids));
          },
          [self](caf::error&) { finish(self); });
}

void choose_targets(adoption_pointer self) {
  enter(self, adoption_step::choosing_targets);
  auto& st = self->state;
  auto call = membership::node_list_call(st.deps.prefix, st.deps.membership_ttl.count());
  self->request(st.deps.link, st.deps.lease_ttl, atoms::redis_script::value, call)
      .then(
          [self](redis_reply& r) {
            auto& state = self->state;
            std::vector<membership::node_record> nodes;
            std::string why;
            if (!membership::parse_node_list(r, nodes, why)) return finish(self);
            state.targets.emplace(std::move(nodes), state.dead_node, state.deps.round_robin);
            if (state.targets->empty()) return finish(self);
            read_index(self);
          },
          [self](caf::error&) { finish(self); });
}

void take_lease(adoption_pointer self) {
  enter(self, adoption_step::taking_lease);
  auto& st = self->state;
  auto call =
      lease::task_lease_acquire_call(st.lease, st.deps.lease_ttl, "session adoption", st.dead_node);
  self->request(st.deps.link, st.deps.lease_ttl, atoms::redis_script::value, call)
      .then(
          [self](redis_reply& r) {
            auto taken = lease::read_task_lease_reply(r, self->state.lease);
            // No answer in time, yet Redis may have run it: ask again as the same owner (the
            // same owner asking again holds what landed) until Redis answers. Giving up would
            // leave a landed lease held and, if every daemon gave up, nobody adopting.
            if (!taken && taken.error().code == protocol::error_code::unavailable)
              return self->delayed_send(self, std::chrono::milliseconds(250),
                                        atoms::timer_tick::value, std::uint64_t{1});
            // One adopter: the daemon that gets the lease. The others find it held and leave.
            if (!taken) return finish(self);
            self->state.outcome.adopter = true;
            choose_targets(self);
          },
          [self](caf::error&) {
            self->delayed_send(self, std::chrono::milliseconds(250), atoms::timer_tick::value,
                               std::uint64_t{1});
          });
}

caf::behavior adoption(adoption_pointer self, adoption_deps deps, std::string dead_node,
                       std::function<void(adoption_outcome)> done) {
  auto& st = self->state;
  st.deps = std::move(deps);
  st.dead_node = std::move(dead_node);
  st.done = std::move(done);
  st.lease.prefix = st.deps.prefix;
  st.lease.name = lease::with_prefix(lease::adoption_prefix, st.dead_node);
  st.lease.owner = st.deps.node_id + ":" + st.deps.run_id + ":adopt";
  st.lease.node = st.deps.node_id;
  st.lease.sharded_watch = st.deps.sharded_watch;
  // Past the lease, another daemon may adopt too; this one stops.
  self->delayed_send(self, st.deps.lease_ttl, atoms::timer_tick::value, std::uint64_t{0});
  take_lease(self);
  return {
      [=](atoms::timer_tick, std::uint64_t which) {
        if (which == 1) {
          if (self->state.step == adoption_step::taking_lease) take_lease(self);
          return;
        }
        log::warn("session", "an adoption ran out of its lease's time",
                  {{"node", self->state.dead_node}, {"step", to_string(self->state.step)}});
        finish(self);
      },
  };
}

} // namespace

const char* to_string(adoption_step step) {
  switch (step) {
  case adoption_step::taking_lease:
    return "taking_lease";
  case adoption_step::choosing_targets:
    return "choosing_targets";
  case adoption_step::reading_index:
    return "reading_index";
  case adoption_step::reading_sessions:
    return "reading_sessions";
  case adoption_step::moving:
    return "moving";
  case adoption_step::unindexing:
    return "unindexing";
  case adoption_step::done:
    return "done";
  }
  return "?";
}

caf::actor spawn_adoption(caf::actor_system& system, adoption_deps deps, std::string dead_node,
                          std::function<void(adoption_outcome)> done) {
  return system.spawn(adoption, std::move(deps), std::move(dead_node), std::move(done));
}

} // namespace baton::session
