// Circuit breakers on the request path; see breaker_service.hpp.
#include "services/breaker/breaker_service.hpp"

#include <boost/asio/post.hpp>
#include <caf/send.hpp>

#include <algorithm>
#include <cmath>

#include "common/log.hpp"
#include "model/breaker/breaker_keys.hpp"

namespace baton::breaker {

using std::chrono::milliseconds;
using redis_link::redis_reply;
using redis_link::reply_kind;

breaker_service::breaker_service(redis_link::redis_pool& redis, breaker_settings settings,
                                 std::function<clock::time_point()> now)
    : redis_(redis), settings_(std::move(settings)), now_(std::move(now)) {
  for (const auto& p : settings_.config.policies)
    breakers_.emplace(p.name, std::make_unique<entry>(p, settings_.node_id));
}

// -- lifecycle -----------------------------------------------------------------------------

void breaker_service::use_fleet(caf::actor_system& system, redis_link::redis_link_actor link,
                                boost::asio::io_context& io, fleet_settings settings) {
  settings.prefix = settings_.prefix;
  settings.node_id = settings_.node_id;
  auto alive = std::weak_ptr<bool>(alive_);
  settings.tell = [&io, alive, this](std::vector<fleet_news> news) {
    boost::asio::post(io, [alive, this, news = std::move(news)]() mutable {
      if (alive.lock()) on_news(std::move(news));
    });
  };
  fleet_ = spawn_breaker_fleet(system, std::move(link), std::move(settings));
}

void breaker_service::listen(redis_link::redis_subscriber& events) {
  events.subscribe(events_channel(settings_.prefix), [this](const std::string& payload) {
    if (fleet_) caf::anon_send(fleet_, atoms::announce::value, payload);
  });
  // Announcements sent while the subscription was down are lost: read every breaker again.
  // (The first subscription counts as one: that is how state survives a restart.) A fleet
  // breaker that tripped here while Redis was out of reach tells the fleet now.
  events.on_resubscribed([this] {
    std::vector<std::string> names;
    for (const auto& [name, e] : breakers_)
      names.push_back(name);
    sync(names);
    tell_lone_trips();
  });
}

void breaker_service::tell_lone_trips() {
  if (!fleet_) return;
  for (const auto& [name, e] : breakers_) {
    auto state = e->machine.state();
    bool open_alone = (state == breaker_state::open || state == breaker_state::half_open) &&
                      !e->fleet_open && e->machine.policy().scope != scope::local;
    if (!open_alone) continue;
    breaker_move move;
    move.rules = rules_of(name, e->machine.policy());
    move.what = static_cast<std::int32_t>(breaker_move::kind::tripped);
    move.generation_floor = e->machine.generation();
    caf::anon_send(fleet_, atoms::moved::value, std::move(move));
  }
}

void breaker_service::set_live_hosts(int hosts) {
  live_hosts_ = std::max(hosts, 1);
  // A quorum of more hosts than the fleet has can never open the breaker fleet-wide: say so
  // (the config alone cannot know the fleet's size), once the fleet had time to assemble.
  if (++counts_taken_ < 3) return;
  for (const auto& p : settings_.config.policies)
    if (p.scope == scope::quorum && p.quorum_hosts > live_hosts_ && warned_.insert(p.name).second)
      log::warn("breaker", "quorum larger than the live fleet: it cannot open fleet-wide",
                {{"breaker", p.name}, {"quorum", std::to_string(p.quorum_hosts)},
                 {"live_hosts", std::to_string(live_hosts_)}});
}

void breaker_service::count_hosts_with(boost::asio::io_context& io,
                                       std::function<void(std::function<void(int)>)> count,
                                       milliseconds every) {
  // Counted for fractions, and to warn of a quorum of hosts the fleet does not have.
  auto by_fraction = [](const breaker_policy& p) { return p.scope == scope::quorum; };
  const auto& c = settings_.config;
  if (std::none_of(c.policies.begin(), c.policies.end(), by_fraction) &&
      !(c.default_policy && by_fraction(*c.default_policy)))
    return;
  count_timer_ = std::make_unique<boost::asio::steady_timer>(io);
  auto alive = std::weak_ptr<bool>(alive_);
  auto tick = std::make_shared<std::function<void()>>();
  *tick = [this, alive, count = std::move(count), every, weak_tick = std::weak_ptr(tick)] {
    count([this, alive](int hosts) {
      if (alive.lock()) set_live_hosts(hosts);
    });
    count_timer_->expires_after(every);
    count_timer_->async_wait([alive, weak_tick](const boost::system::error_code& ec) {
      auto next = weak_tick.lock();
      if (!ec && alive.lock() && next) (*next)();
    });
  };
  count_tick_ = tick;
  (*tick)();
}

void breaker_service::stop() {
  if (count_timer_) count_timer_->cancel();
  if (fleet_) caf::anon_send_exit(fleet_, caf::exit_reason::user_shutdown);
  fleet_ = breaker_fleet_actor{};
}

void breaker_service::sync(const std::vector<std::string>& names) {
  if (!fleet_ || names.empty()) return;
  std::vector<fleet_rules> rules;
  for (const auto& name : names)
    if (auto it = breakers_.find(name); it != breakers_.end())
      rules.push_back(rules_of(name, it->second->machine.policy()));
  caf::anon_send(fleet_, atoms::sync::value, std::move(rules));
}

// -- finding breakers ----------------------------------------------------------------------

result<breaker_service::entry*> breaker_service::find_or_create(const std::string& name) {
  using protocol::error_code;
  if (auto it = breakers_.find(name); it != breakers_.end()) return it->second.get();
  auto refuse = [this](std::string why) {
    ++counters_.refused_names;
    return protocol::fail(error_code::err, std::move(why));
  };
  if (!is_breaker_name(name))
    return refuse("a breaker name is 1 to 128 letters, digits, '-', '_', '.', ':' or '/'");
  if (is_reserved_name(name))
    return refuse("breaker names starting with 'baton' are reserved for the daemon's own");
  const auto* policy = settings_.config.policy_for(name);
  if (!policy)
    return refuse("unknown breaker '" + name +
                  "' (no policy names it and there is no breakers.default)");
  if (breakers_.size() >= settings_.max_breakers)
    return refuse("too many breakers (" + std::to_string(settings_.max_breakers) +
                  "); name them in breakers.policies");
  auto p = *policy;
  p.name = name;
  auto* e = breakers_.emplace(name, std::make_unique<entry>(std::move(p), settings_.node_id))
                .first->second.get();
  sync({name}); // a state the fleet (or an operator's FORCE) decided for it already
  return e;
}

fleet_rules breaker_service::rules_of(const std::string& name, const breaker_policy& p) const {
  fleet_rules r;
  r.name = name;
  r.hosts_needed = 1;
  // A fraction of a fleet not counted yet opens nothing fleet-wide (the trip still counts in
  // Redis, for when a later trip finds the count).
  if (p.scope == scope::quorum)
    r.hosts_needed =
        p.quorum_hosts > 0 ? p.quorum_hosts
        : live_hosts_ == 0 ? 1000000
                           : std::max(1, static_cast<int>(std::ceil(p.quorum_fraction * live_hosts_)));
  r.window_ms = p.window == window_kind::time
                    ? std::chrono::duration_cast<milliseconds>(p.window_span).count()
                    : std::max<std::int64_t>(p.open_duration.count(), 60000);
  r.open_ms = p.open_duration.count();
  r.backoff = p.open_backoff;
  r.max_open_ms = p.max_open_duration.count();
  r.probe_ttl_ms = p.probe_timeout.count();
  return r;
}

bool breaker_service::may_probe(const entry& e, clock::time_point now) const {
  // A breaker open on this host's own data probes here; one open fleet-wide probes from the
  // host that holds the fleet's probe, unless Redis is out of reach (then each host decides).
  bool holds = now < e.probe_until && e.machine.generation() == e.probe_generation;
  return e.machine.policy().scope == scope::local || !e.fleet_open || holds || !redis_.reachable();
}

// -- CHECK and REPORT ----------------------------------------------------------------------

check_answer breaker_service::redis_breaker_answer() const {
  check_answer a;
  auto state = redis_.status().breaker;
  a.state = state == redis_link::redis_breaker::state::open        ? breaker_state::open
            : state == redis_link::redis_breaker::state::half_open ? breaker_state::half_open
                                                                   : breaker_state::closed;
  a.allowed = a.state != breaker_state::open;
  a.degraded = !redis_.reachable();
  return a;
}

result<check_answer> breaker_service::check(const std::string& name) {
  ++counters_.checks;
  if (name == redis_breaker_name) return redis_breaker_answer();
  auto found = find_or_create(name);
  if (!found) return std::move(found).error();
  auto* e = *found;
  auto now = now_();
  auto r = e->machine.check(now, may_probe(*e, now));
  if (r.changed) after(name, *e, *r.changed, now);
  ++(r.allowed ? counters_.allowed : counters_.denied);
  check_answer a;
  a.allowed = r.allowed;
  a.state = r.state;
  a.probe = r.probe;
  if (r.next_probe_at)
    a.next_probe_ms =
        std::max<std::int64_t>(0, std::chrono::ceil<milliseconds>(*r.next_probe_at - now).count());
  a.generation = e->machine.generation();
  a.degraded = !redis_.reachable();
  a.fleet = e->fleet_open && (r.state == breaker_state::open || r.state == breaker_state::half_open);
  return a;
}

result<reported> breaker_service::report(const std::string& name, outcome what,
                                         std::optional<milliseconds> latency) {
  if (name == redis_breaker_name)
    return protocol::fail(protocol::error_code::err,
                          "'" + name +
                              "' is the daemon's own breaker around Redis: it cannot be reported to");
  auto found = find_or_create(name);
  if (!found) return std::move(found).error();
  auto* e = *found;
  ++counters_.reports;
  auto now = now_();
  e->active = true;
  // In half-open, a report on this host while its probe is out is the probe's result, whatever
  // connection it comes on: apps call through pools, and CHECK and REPORT may take different
  // connections.
  if (auto t = e->machine.report(what, latency, now)) after(name, *e, *t, now);
  return reported{};
}

void breaker_service::after(const std::string& name, entry& e, const transition& t,
                            clock::time_point now) {
  if (t.to == breaker_state::open && t.from != breaker_state::open) ++counters_.trips;
  if (changed_) changed_(name, t.to, t.generation, settings_.node_id);
  const auto& policy = e.machine.policy();
  if (policy.scope == scope::local || !fleet_) return;
  breaker_move move;
  move.rules = rules_of(name, policy);
  move.generation_floor = t.generation;
  bool holds_probe = now < e.probe_until;
  switch (t.reason) {
  case transition_reason::failure_rate:
  case transition_reason::slow_rate:
    move.what = static_cast<std::int32_t>(breaker_move::kind::tripped);
    break;
  case transition_reason::open_elapsed:
    if (!e.fleet_open) return; // open on this host's data alone: it probes here
    move.what = static_cast<std::int32_t>(breaker_move::kind::probe_due);
    break;
  case transition_reason::probe_failed:
    // The fleet's probe failed: re-open everywhere. A probe of this host's own trip that
    // failed is one more trip of this host (a quorum counts it; a fleet breaker opens).
    move.what = static_cast<std::int32_t>(holds_probe && e.fleet_open
                                              ? breaker_move::kind::probe_failed
                                              : breaker_move::kind::tripped);
    break;
  case transition_reason::probes_passed:
    if (!(holds_probe && e.fleet_open)) return;
    move.what = static_cast<std::int32_t>(breaker_move::kind::probe_passed);
    break;
  default:
    move.what = static_cast<std::int32_t>(breaker_move::kind::settled);
    break;
  }
  if (t.to == breaker_state::closed) e.fleet_open = false;
  e.probe_until = {};
  caf::anon_send(fleet_, atoms::moved::value, std::move(move));
}

// -- what the fleet decided ----------------------------------------------------------------

void breaker_service::on_news(std::vector<fleet_news> news) {
  for (auto& n : news) {
    switch (n.what) {
    case fleet_news::kind::adopt:
      adopt(n.name, n.shared);
      break;
    case fleet_news::kind::probe_granted:
      if (auto it = breakers_.find(n.name); it != breakers_.end()) {
        adopt(n.name, n.shared); // the period first: its announcement must not reset probes
        // A grant for a period this host has moved past (its adopt was stale) admits nothing.
        it->second->probe_until = now_() + n.probe_ttl;
        it->second->probe_generation = n.shared.generation;
      }
      break;
    case fleet_news::kind::collect: {
      std::vector<breaker_count> counts;
      auto now = now_();
      for (auto& [name, e] : breakers_) {
        if (!e->active) continue;
        e->active = false;
        auto t = e->machine.totals(now);
        counts.push_back({name, static_cast<std::int64_t>(t.calls),
                          static_cast<std::int64_t>(t.failures), static_cast<std::int64_t>(t.slow)});
      }
      if (fleet_ && !counts.empty()) caf::anon_send(fleet_, atoms::counts::value, std::move(counts));
      // A trip the fleet did not hear (Redis was out of reach) is told again, once a second,
      // until the fleet's state is adopted or this host closed on its own.
      tell_lone_trips();
      break;
    }
    }
  }
}

void breaker_service::adopt(const std::string& name, const shared_state& shared) {
  auto it = breakers_.find(name);
  if (it == breakers_.end()) return; // not judged here
  auto& e = *it->second;
  bool forced = shared.state == breaker_state::forced_open ||
                shared.state == breaker_state::forced_closed;
  bool was_forced = e.machine.state() == breaker_state::forced_open ||
                    e.machine.state() == breaker_state::forced_closed;
  // A local breaker takes only an operator's FORCE (and its end) from the fleet.
  if (e.machine.policy().scope == scope::local && !forced && !was_forced) return;
  auto now = now_();
  auto t = e.machine.adopt(shared, now);
  if (!t) return;
  ++counters_.adopted;
  e.fleet_open = shared.state == breaker_state::open || shared.state == breaker_state::half_open;
  if (shared.state != breaker_state::half_open) e.probe_until = {};
  if (changed_) changed_(name, t->to, shared.generation, shared.tripped_by);
}

} // namespace baton::breaker
