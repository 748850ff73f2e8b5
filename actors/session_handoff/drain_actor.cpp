// The drain actor; see drain_actor.hpp.
#include "actors/session_handoff/drain_actor.hpp"

#include <caf/all.hpp>

#include <algorithm>
#include <map>
#include <set>
#include <tuple>

#include "common/log.hpp"
#include "model/membership/node_list.hpp"
#include "model/session/handoff_targets.hpp"
#include "model/session/resume_token.hpp"
#include "model/session/session_keys.hpp"

namespace baton::session {
namespace {

using redis_link::redis_reply;
using redis_link::reply_kind;
using redis_link::script_call;
using time_point = caf::actor_clock::time_point;

// Timer generations: each step arms at most one timer.
constexpr std::uint64_t delay_timer = 1;
constexpr std::uint64_t deadline_timer = 2;
constexpr std::uint64_t choose_retry_timer = 3; ///< the node list went unanswered: ask again
constexpr std::uint64_t move_retry_timer = 4;   ///< moves went unanswered: send them again

// Redis slow or paused (a CLIENT PAUSE, a failover) must not turn a planned handoff into a
// crash adoption after the TTL: what went unanswered is asked again this often, until the
// handoff deadline. A move sent again with its nonce is recognised by lua/session_move.lua.
constexpr std::chrono::milliseconds retry_every{100};

struct planned_move {
  std::string id;
  std::int64_t epoch = 0;
  membership::node_record to;
  std::string nonce;
};

struct drain_state {
  drain_deps deps;
  drain_step step = drain_step::announcing;
  std::vector<std::pair<std::string, std::int64_t>> pending; ///< not moved yet
  std::set<std::string> in_flight;                           ///< their move is on its way
  std::set<std::string> waiting;                             ///< moved, not resumed yet
  /// Resumed (true) or closed before their move's reply came: the event travels on another
  /// connection than the reply and may overtake it.
  std::map<std::string, std::pair<bool, time_point>> early;
  std::vector<planned_move> unanswered; ///< to send again at the next move_retry_timer
  time_point choosing_since{};          ///< the first ask for the node list
  handoff_report report;
  time_point started{};
  static inline const char* name = "session_drain";
};

using drain_pointer = drain_actor::stateful_pointer<drain_state>;

void enter(drain_pointer self, drain_step step) {
  self->state.step = step;
  if (self->state.deps.on_step) self->state.deps.on_step(step);
}

void tell(drain_pointer self, drain_news news) {
  if (self->state.deps.tell) self->state.deps.tell(std::move(news));
}

void finish(drain_pointer self) {
  auto& st = self->state;
  if (st.step == drain_step::done) return;
  enter(self, drain_step::done);
  if (st.started != time_point{})
    st.report.took = std::chrono::duration_cast<milliseconds>(self->clock().now() - st.started);
  drain_news news;
  news.what = drain_news::kind::finished;
  news.report = st.report;
  tell(self, std::move(news));
  self->quit();
}

void wait_for_resumes(drain_pointer self) {
  auto& st = self->state;
  if (st.waiting.empty()) return finish(self);
  enter(self, drain_step::waiting);
  self->delayed_send(self, st.deps.settings.handoff_deadline, atoms::timer_tick::value,
                     deadline_timer);
}

void count_resumed(drain_pointer self, time_point when) {
  auto& st = self->state;
  ++st.report.resumed;
  st.report.resume_ms.push_back(
      std::chrono::duration<double, std::milli>(when - st.started).count());
}

void on_moved(drain_pointer self, const std::string& id, const membership::node_record& to,
              const std::string& nonce, const redis_reply& r) {
  auto& st = self->state;
  drain_news news;
  news.id = id;
  st.in_flight.erase(id);
  if (r.kind == reply_kind::array && r.elements.size() >= 2 && r.elements[0].integer == 1) {
    ++st.report.moved;
    if (auto e = st.early.find(id); e != st.early.end()) {
      if (e->second.first) count_resumed(self, e->second.second);
    } else {
      st.waiting.insert(id);
    }
    news.what = drain_news::kind::moved;
    news.target = to.id;
    news.address = to.address;
    news.epoch = r.elements[1].integer;
    news.nonce = nonce;
    // lua/session_move.lua answers the opener's uid third ("" before sessions carried one).
    if (r.elements.size() >= 3 && !r.elements[2].str.empty())
      news.uid = std::strtoll(r.elements[2].str.c_str(), nullptr, 10);
  } else {
    ++st.report.failed;
    news.what = drain_news::kind::not_moved;
    // Fenced by another owner: it moved on already (resumed elsewhere, adopted).
    news.moved_on = r.kind == reply_kind::array && r.elements.size() >= 3 &&
                    r.elements[2].str != st.deps.settings.node_id;
  }
  tell(self, std::move(news));
}

void send_moves(drain_pointer self, std::vector<planned_move> moves) {
  auto& st = self->state;
  auto channel = session_events_channel(st.deps.settings.prefix);
  std::vector<script_call> calls;
  for (const auto& m : moves)
    calls.push_back(
        {"session_move",
         {session_key(st.deps.settings.prefix, m.id)},
         {st.deps.settings.node_id, std::to_string(m.epoch), m.to.id, m.nonce, channel, m.id},
         0});
  auto done = [self, moves](const std::vector<redis_reply>& replies) {
    auto& state = self->state;
    bool in_time = self->clock().now() < state.started + state.deps.settings.handoff_deadline;
    for (std::size_t i = 0; i < moves.size(); ++i) {
      auto reply = i < replies.size() ? replies[i] : redis_reply::unavailable("no reply");
      if (reply.is_unavailable() && in_time) {
        state.unanswered.push_back(moves[i]);
        continue;
      }
      on_moved(self, moves[i].id, moves[i].to, moves[i].nonce, reply);
    }
    if (!state.unanswered.empty()) {
      self->delayed_send(self, retry_every, atoms::timer_tick::value, move_retry_timer);
      return;
    }
    wait_for_resumes(self);
  };
  self->request(st.deps.link, std::chrono::seconds(30), atoms::redis_batch::value, std::move(calls))
      .then([done](std::vector<redis_reply>& r) { done(r); }, [done](caf::error&) { done({}); });
}

void move_all(drain_pointer self, handoff_targets targets) {
  enter(self, drain_step::moving);
  auto& st = self->state;
  st.started = self->clock().now();
  std::vector<planned_move> moves;
  for (const auto& [id, epoch] : st.pending) {
    moves.push_back({id, epoch, targets.next(), random_id()});
    st.in_flight.insert(id);
  }
  st.pending.clear();
  send_moves(self, std::move(moves));
}

// After the delay: what does this node own now? (Sessions resumed elsewhere or closed during
// the delay are gone from it; the session service answers with (sessions, ...).)
void ask_for_sessions(drain_pointer self) {
  enter(self, drain_step::choosing_targets);
  drain_news news;
  news.what = drain_news::kind::need_sessions;
  tell(self, std::move(news));
}

void ask_for_targets(drain_pointer self);

void choose_targets(drain_pointer self, const owned_sessions& owned) {
  auto& st = self->state;
  if (st.step != drain_step::choosing_targets || !st.pending.empty()) return; // not asked
  for (std::size_t i = 0; i < owned.ids.size() && i < owned.epochs.size(); ++i)
    st.pending.emplace_back(owned.ids[i], owned.epochs[i]);
  st.report.owned = st.pending.size();
  if (st.pending.empty()) return finish(self);
  st.choosing_since = self->clock().now();
  ask_for_targets(self);
}

void ask_for_targets(drain_pointer self) {
  auto& st = self->state;
  auto call =
      membership::node_list_call(st.deps.settings.prefix, st.deps.settings.membership_ttl.count());
  auto go = [self](const redis_reply& r) {
    auto& state = self->state;
    std::vector<membership::node_record> nodes;
    std::string why;
    bool ok = membership::parse_node_list(r, nodes, why);
    if (!ok && self->clock().now() < state.choosing_since + state.deps.settings.handoff_deadline) {
      self->delayed_send(self, retry_every, atoms::timer_tick::value, choose_retry_timer);
      return;
    }
    handoff_targets targets(std::move(nodes), state.deps.settings.node_id,
                            state.deps.settings.round_robin);
    if (!ok || targets.empty()) {
      log::warn(
          "session", "no active node to hand sessions to; they stay here",
          {{"sessions", std::to_string(state.pending.size())}, {"why", ok ? "none active" : why}});
      state.report.stayed = state.pending.size();
      return finish(self);
    }
    move_all(self, std::move(targets));
  };
  self->request(st.deps.link, std::chrono::seconds(10), atoms::redis_script::value, call)
      .then([go](redis_reply& r) { go(r); },
            [go](caf::error& e) { go(redis_reply::unavailable(to_string(e))); });
}

void announce(drain_pointer self) {
  enter(self, drain_step::announcing);
  auto after = [self](bool ok) {
    auto& st = self->state;
    st.report.announced = ok;
    drain_news news;
    news.what = drain_news::kind::announced;
    news.ok = ok;
    tell(self, std::move(news));
    if (st.deps.settings.drain_delay.count() <= 0) return ask_for_sessions(self);
    enter(self, drain_step::delaying);
    self->delayed_send(self, st.deps.settings.drain_delay, atoms::timer_tick::value, delay_timer);
  };
  if (!self->state.deps.membership) return after(false);
  self->request(self->state.deps.membership, std::chrono::seconds(10), atoms::drain::value)
      .then([after](bool ok) { after(ok); }, [after](caf::error&) { after(false); });
}

// A session of the drain was resumed elsewhere or closed.
void gone(drain_pointer self, const std::string& id, bool resumed) {
  auto& st = self->state;
  auto before = st.pending.size();
  st.pending.erase(std::remove_if(st.pending.begin(), st.pending.end(),
                                  [&](const auto& p) { return p.first == id; }),
                   st.pending.end());
  if (st.pending.size() != before) return; // not moved yet: nothing left to move
  if (st.in_flight.count(id)) {
    st.early[id] = {resumed, self->clock().now()};
    return;
  }
  if (st.waiting.erase(id) == 0) return;
  if (resumed) count_resumed(self, self->clock().now());
  if (st.waiting.empty() && st.step == drain_step::waiting) finish(self);
}

drain_actor::behavior_type drain(drain_pointer self, drain_deps deps) {
  self->state.deps = std::move(deps);
  announce(self);
  return {
      [=](atoms::sessions, const owned_sessions& owned) { choose_targets(self, owned); },
      [=](atoms::resumed, const std::string& id) { gone(self, id, true); },
      [=](atoms::closed, const std::string& id) { gone(self, id, false); },
      [=](atoms::timer_tick, std::uint64_t which) {
        auto step = self->state.step;
        if (which == delay_timer && step == drain_step::delaying) return ask_for_sessions(self);
        if (which == deadline_timer && step == drain_step::waiting) return finish(self);
        if (which == choose_retry_timer && step == drain_step::choosing_targets)
          return ask_for_targets(self);
        if (which == move_retry_timer && step == drain_step::moving) {
          auto again = std::move(self->state.unanswered);
          self->state.unanswered.clear();
          return send_moves(self, std::move(again));
        }
      },
  };
}

} // namespace

const char* to_string(drain_step step) {
  switch (step) {
  case drain_step::announcing:
    return "announcing";
  case drain_step::delaying:
    return "delaying";
  case drain_step::choosing_targets:
    return "choosing_targets";
  case drain_step::moving:
    return "moving";
  case drain_step::waiting:
    return "waiting";
  case drain_step::done:
    return "done";
  }
  return "?";
}

drain_actor spawn_drain(caf::actor_system& system, drain_deps deps) {
  return system.spawn(drain, std::move(deps));
}

} // namespace baton::session
