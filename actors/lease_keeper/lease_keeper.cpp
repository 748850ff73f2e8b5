// The lease keeper; see lease_keeper.hpp.
#include "actors/lease_keeper/lease_keeper.hpp"

#include <caf/all.hpp>

#include <unordered_map>
#include <utility>

#include "actors/support/wake_timer.hpp"
#include "common/log.hpp"
#include "model/lease/lease_keys.hpp"

namespace baton::lease {
namespace {

using std::chrono::milliseconds;
using time_point = caf::actor_clock::time_point;
using redis_link::redis_reply;
using redis_link::reply_kind;
using redis_link::script_call;

struct kept {
  std::string owner;
  std::int64_t token = 0;
  milliseconds ttl{0};
  time_point safe_end{}; ///< the `lost` verdict is due here
  time_point renew_at{}; ///< the next renewal is due here
  bool renewing = false; ///< a renewal is on its way
  bool recheck = false;  ///< the master moved while it was: renew again once it answers
};

/// A lease this keeper stopped keeping without seeing it released, and that Redis may still
/// hold under its token: a renewal sent before the verdict can land after it (Redis stalled,
/// then woke), and would keep the name from everyone for another TTL. Given back
/// (lua/lease_give_back.lua: only under that owner and token, keeping any lock-delay) until
/// Redis answers, or `give_up` passes. Due give-backs leave together, one batch per tick.
struct giving_back {
  std::string owner;
  std::int64_t token = 0;
  time_point next_try{};
  time_point give_up{};
  milliseconds retry{0}; ///< the wait before the next try, doubling
  bool in_flight = false;
};

/// How long a give-back is tried while Redis does not answer it. A late renewal extends the
/// lease one TTL from when it lands; past this, a stall that long has outlived the lease.
constexpr milliseconds give_back_patience{30000};
constexpr milliseconds give_back_first_retry{250};
constexpr milliseconds give_back_longest_retry{4000};

struct keeper_state {
  keeper_settings settings;
  redis_link::redis_link_actor link;
  std::unordered_map<std::string, kept> leases;
  /// Declared lost here while a renewal was on its way: if Redis renewed it after all, it is
  /// given back, or nobody could take the name until the renewed TTL ran out. Bounded.
  std::unordered_map<std::string, std::int64_t> declared_lost;
  std::unordered_map<std::string, giving_back> give_backs; ///< by name
  actors::wake_timer timer;
  std::size_t batches_in_flight = 0;
  bool stopping = false;
  bool told_stopped = false;
  std::vector<keeper_news> outbox; ///< told at the end of the message that produced it
  static inline const char* name = "lease_keeper";
};

using keeper_pointer = lease_keeper_actor::stateful_pointer<keeper_state>;

time_point from_ns(std::int64_t ns) {
  return time_point(std::chrono::nanoseconds(ns));
}

time_point next_event(const kept& k) {
  return k.renewing ? k.safe_end : std::min(k.renew_at, k.safe_end);
}

void tell(keeper_pointer self, keeper_news news) {
  self->state.outbox.push_back(std::move(news));
}

void flush(keeper_pointer self) {
  auto& st = self->state;
  if (st.outbox.empty()) return;
  auto news = std::move(st.outbox);
  st.outbox.clear();
  if (st.settings.tell) st.settings.tell(std::move(news));
}

void give_back(keeper_pointer self, const std::string& name, const std::string& owner,
               std::int64_t token);

void declare_lost(keeper_pointer self, const std::string& name, const kept& k, std::string reason) {
  auto& st = self->state;
  if (st.declared_lost.size() > 100000) st.declared_lost.clear();
  st.declared_lost[name] = k.token;
  // A renewal this keeper sent may still land (its answer may have been given up on before
  // the verdict): released now, and until Redis answers. Harmless if it lapsed or is
  // another's: the release takes only this owner's token.
  give_back(self, name, k.owner, k.token);
  keeper_news news;
  news.what = keeper_news::kind::lost;
  news.name = name;
  news.token = k.token;
  news.reason = std::move(reason);
  st.leases.erase(name);
  tell(self, std::move(news));
}

void maybe_stopped(keeper_pointer self) {
  auto& st = self->state;
  if (st.stopping && !st.told_stopped && st.batches_in_flight == 0) {
    st.told_stopped = true;
    keeper_news news;
    news.what = keeper_news::kind::stopped;
    tell(self, std::move(news));
  }
}

/// Gives the lease back: due now, sent with the next tick's batch.
void give_back(keeper_pointer self, const std::string& name, const std::string& owner,
               std::int64_t token) {
  auto& st = self->state;
  auto now = self->clock().now();
  auto& g = st.give_backs[name];
  if (g.token != token)
    g = giving_back{owner, token, now, now + give_back_patience, give_back_first_retry, false};
  else if (!g.in_flight)
    g.next_try = now;
  st.timer.wake_at(self, now);
}

void on_given_back(keeper_pointer self, const std::string& name, std::int64_t token,
                   const redis_reply& reply) {
  auto& st = self->state;
  bool answered = reply.kind == reply_kind::array && reply.elements.size() >= 2;
  if (auto lost = st.declared_lost.find(name); answered && reply.elements[0].integer == 1 &&
                                               lost != st.declared_lost.end() &&
                                               lost->second == token) {
    // Ended under this token: a renewal that had not landed yet cannot revive it
    // (lua/lease_renew.lua extends only a lease still valid), so a late success was one
    // that ran before, and there is nothing more to give back.
    st.declared_lost.erase(lost);
  }
  auto it = st.give_backs.find(name);
  if (it == st.give_backs.end() || it->second.token != token) return;
  auto& g = it->second;
  g.in_flight = false;
  auto now = self->clock().now();
  if (answered) {
    // Given back, or not held under this token any more (expired, taken by another): done.
    st.give_backs.erase(it);
    return;
  }
  if (now >= g.give_up) {
    log::warn("lease", "could not give back a lost lease; it ends at its ttl",
              {{"lease", name}, {"reason", reply.str}});
    st.give_backs.erase(it);
    return;
  }
  g.next_try = now + g.retry;
  g.retry = std::min(g.retry * 2, give_back_longest_retry);
  st.timer.wake_at(self, g.next_try);
}

void send_give_backs(keeper_pointer self, const std::vector<std::string>& names) {
  auto& st = self->state;
  std::vector<script_call> calls;
  std::vector<std::pair<std::string, std::int64_t>> who;
  for (const auto& name : names) {
    auto& g = st.give_backs[name];
    g.in_flight = true;
    calls.push_back({"lease_give_back",
                     {keys_for(st.settings.prefix, name).lease},
                     {g.owner, std::to_string(g.token), events_channel(st.settings.prefix), name},
                     0});
    who.emplace_back(name, g.token);
  }
  auto finish = [self, who](const std::vector<redis_reply>& replies) {
    for (std::size_t i = 0; i < who.size(); ++i)
      on_given_back(self, who[i].first, who[i].second,
                    i < replies.size() ? replies[i] : redis_reply::unavailable("no reply"));
  };
  self->request(st.link, std::chrono::seconds(5), atoms::redis_batch::value, std::move(calls))
      .then([finish](std::vector<redis_reply>& replies) { finish(replies); },
            [finish](caf::error&) { finish({}); });
}

void on_renewed(keeper_pointer self, const std::string& name, std::int64_t token,
                const std::string& owner, milliseconds ttl, time_point sent,
                const redis_reply& reply) {
  auto& st = self->state;
  bool answered = reply.kind == reply_kind::array && reply.elements.size() >= 2;
  bool renewed = answered && reply.elements[0].integer == 1;
  auto it = st.leases.find(name);
  if (it == st.leases.end() || it->second.token != token) {
    auto lost = st.declared_lost.find(name);
    // Renewed after all, or unanswered (it may still land): given back.
    if ((renewed || !answered) && lost != st.declared_lost.end() && lost->second == token)
      give_back(self, name, owner, token);
    return;
  }
  auto& k = it->second;
  k.renewing = false;
  if (std::exchange(k.recheck, false) && renewed) {
    // The old master may have answered it just before the switch, and the new one may lack
    // it: not counted, and asked again of the new one at once.
    k.renew_at = self->clock().now();
    st.timer.wake_at(self, next_event(k));
    return;
  }
  if (renewed) {
    // Redis holds the lease at least this renewal's TTL from when it left (lua/lease_renew.lua
    // never shortens one), and at least what a holder's RENEW meanwhile promised (keep).
    k.safe_end = std::max(k.safe_end, keep_safe_end(sent, ttl, st.settings));
    k.renew_at = std::max(k.renew_at, sent + ttl / 3);
    keeper_news news;
    news.name = name;
    news.token = token;
    news.safe_end = k.safe_end;
    tell(self, std::move(news));
  } else if (answered) {
    log::warn("lease", "kept lease lost", {{"lease", name}, {"reason", reply.elements[1].str}});
    return declare_lost(self, name, k, "redis: " + reply.elements[1].str);
  } else {
    // Redis unreachable or slow: try again soon, until the safe validity runs out.
    k.renew_at = self->clock().now() + std::max(milliseconds(20), k.ttl / 10);
  }
  st.timer.wake_at(self, next_event(k));
}

void renew(keeper_pointer self, const std::vector<std::string>& names) {
  auto& st = self->state;
  auto now = self->clock().now();
  std::vector<script_call> calls;
  std::vector<std::pair<std::string, std::int64_t>> who;
  std::vector<std::string> owners;
  std::vector<milliseconds> ttls;
  milliseconds longest{1};
  for (const auto& name : names) {
    auto& k = st.leases[name];
    k.renewing = true;
    // A renewal's deadline is its lease's safe validity, not a caller's budget: 10,000
    // renewals leave together and Redis may need a while for all.
    auto left = std::chrono::duration_cast<milliseconds>(k.safe_end - now);
    auto budget = std::clamp(left, milliseconds(1), milliseconds(10000));
    longest = std::max(longest, budget);
    calls.push_back({"lease_renew",
                     {keys_for(st.settings.prefix, name).lease},
                     {k.owner, std::to_string(k.token), std::to_string(k.ttl.count())},
                     budget.count()});
    who.emplace_back(name, k.token);
    owners.push_back(k.owner);
    ttls.push_back(k.ttl);
  }
  ++st.batches_in_flight;
  auto finish = [self, who, owners, ttls, now](const std::vector<redis_reply>& replies) {
    for (std::size_t i = 0; i < who.size(); ++i)
      on_renewed(self, who[i].first, who[i].second, owners[i], ttls[i], now,
                 i < replies.size() ? replies[i] : redis_reply::unavailable("no reply"));
    --self->state.batches_in_flight;
    maybe_stopped(self);
    flush(self);
  };
  self->request(st.link, longest + milliseconds(1000), atoms::redis_batch::value, std::move(calls))
      .then([finish](std::vector<redis_reply>& replies) { finish(replies); },
            [finish](caf::error&) { finish({}); });
}

void on_tick(keeper_pointer self) {
  auto& st = self->state;
  auto now = self->clock().now();
  std::vector<std::string> expired, due;
  auto next = time_point::max();
  for (const auto& [name, k] : st.leases) {
    if (now >= k.safe_end) {
      expired.push_back(name);
    } else if (!k.renewing && k.renew_at - k.ttl / 6 <= now) {
      // Renewing up to ttl/6 early gathers renewals that fall close together into one batch,
      // instead of a tick per lease.
      due.push_back(name);
    } else {
      next = std::min(next, next_event(k));
    }
  }
  for (const auto& name : expired) {
    log::warn("lease", "kept lease lost: could not renew it within its safe validity",
              {{"lease", name}});
    declare_lost(self, name, st.leases[name], "not renewed within its safe validity");
  }
  if (!due.empty()) renew(self, due);
  for (const auto& name : due)
    next = std::min(next, st.leases[name].safe_end);
  std::vector<std::string> giving;
  for (const auto& [name, g] : st.give_backs) {
    if (g.in_flight) continue;
    if (g.next_try <= now)
      giving.push_back(name);
    else
      next = std::min(next, g.next_try);
  }
  if (!giving.empty()) send_give_backs(self, giving);
  if (next != time_point::max()) st.timer.wake_at(self, std::max(next, now + milliseconds(5)));
}

lease_keeper_actor::behavior_type keeper(keeper_pointer self, redis_link::redis_link_actor link,
                                         keeper_settings settings) {
  self->state.link = std::move(link);
  self->state.settings = std::move(settings);
  return {
      [=](atoms::keep, kept_lease& lease) {
        auto& st = self->state;
        if (st.stopping) return;
        kept k;
        k.owner = lease.owner;
        k.token = lease.token;
        k.ttl = milliseconds(lease.ttl_ms);
        auto sent = from_ns(lease.sent_ns);
        k.safe_end = keep_safe_end(sent, k.ttl, st.settings);
        k.renew_at = sent + k.ttl / 3;
        if (auto it = st.leases.find(lease.name);
            it != st.leases.end() && it->second.token == lease.token) {
          // Its holder renewed it: Redis never shortens a lease, so the later end holds, and
          // a renewal of ours on its way is still on its way.
          k.safe_end = std::max(k.safe_end, it->second.safe_end);
          k.renewing = it->second.renewing;
        }
        st.declared_lost.erase(lease.name);
        // Granted again here: Redis held no other lease of this name, so nothing to give back
        // (and a give-back's retry must not meet the new grant's token: it takes only its own).
        if (auto g = st.give_backs.find(lease.name);
            g != st.give_backs.end() && g->second.token != lease.token)
          st.give_backs.erase(g);
        st.timer.wake_at(self, next_event(k));
        st.leases[lease.name] = std::move(k);
      },
      [=](atoms::forget, const std::string& name, std::int64_t token) {
        auto& st = self->state;
        auto it = st.leases.find(name);
        if (it == st.leases.end() || it->second.token != token) return;
        // Released, or lost by the service's own clock, with a renewal on its way: if Redis
        // renews it after all, it is given back (on_renewed), or nobody could take the name
        // until the renewed TTL ran out.
        if (it->second.renewing) {
          if (st.declared_lost.size() > 100000) st.declared_lost.clear();
          st.declared_lost[name] = token;
        }
        st.leases.erase(it);
      },
      [=](atoms::abandon, const std::string& name, std::int64_t token) {
        auto& st = self->state;
        auto it = st.leases.find(name);
        if (it == st.leases.end() || it->second.token != token) return; // declared here
        if (st.declared_lost.size() > 100000) st.declared_lost.clear();
        st.declared_lost[name] = token;
        auto owner = it->second.owner;
        st.leases.erase(it);
        give_back(self, name, owner, token);
      },
      [=](atoms::stop_all) {
        self->state.leases.clear();
        self->state.timer.cancel();
        self->state.stopping = true;
        maybe_stopped(self);
        flush(self);
      },
      [=](atoms::check_all) {
        // After a failover the new master may lack grants the old one made (replication is
        // asynchronous): a renewal finds them gone, and their holders hear `lost` now rather
        // than up to ttl/3 later, while someone else may already hold the name.
        auto& st = self->state;
        if (st.stopping) return;
        auto now = self->clock().now();
        for (auto& [name, k] : st.leases) {
          if (k.renewing)
            k.recheck = true;
          else
            k.renew_at = std::min(k.renew_at, now);
        }
        on_tick(self);
        flush(self);
      },
      [=](atoms::timer_tick, std::uint64_t generation) {
        if (self->state.timer.fired(generation)) on_tick(self);
        flush(self);
      },
  };
}

} // namespace

time_point keep_safe_end(time_point sent, milliseconds ttl, milliseconds drift_margin) {
  return sent + ttl - drift_margin - keep_notice(ttl);
}

lease_keeper_actor spawn_lease_keeper(caf::actor_system& system, redis_link::redis_link_actor link,
                                      keeper_settings settings) {
  return system.spawn(keeper, std::move(link), std::move(settings));
}

} // namespace baton::lease
