// STATE, LIST, FORCE and the metrics of breakers: what operators ask of them, beside the
// request path's CHECK and REPORT; part of breaker_service (see breaker_service.hpp).
#include <algorithm>

#include "common/log.hpp"
#include "metrics/exposition.hpp"
#include "model/breaker/breaker_keys.hpp"
#include "redis/idempotent_call.hpp"
#include "services/breaker/breaker_service.hpp"
#include "services/unanswered.hpp"

namespace baton::breaker {

using redis_link::redis_reply;
using redis_link::reply_kind;

// -- STATE, LIST, FORCE --------------------------------------------------------------------

void breaker_service::state(const std::string& name,
                            std::function<void(result<breaker_view>)> done) {
  breaker_view v;
  v.name = name;
  if (name == redis_breaker_name) {
    auto a = redis_breaker_answer();
    v.scope = "local";
    v.state = a.state;
    v.degraded = a.degraded;
    return done(std::move(v));
  }
  auto found = find_or_create(name);
  if (!found) return done(std::move(found).error());
  auto* e = *found;
  auto now = now_();
  e->machine.advance(now);
  const auto& m = e->machine;
  v.scope = scope_name(m.policy().scope);
  v.state = m.state();
  v.generation = m.generation();
  v.window = e->machine.totals(now);
  v.tripped_by = m.tripped_by();
  v.consecutive_trips = m.consecutive_trips();
  v.probes_out = m.probes_out();
  v.counters = m.counters();
  v.degraded = !redis_.reachable();
  auto keys = keys_for(settings_.prefix, name);
  auto window = std::to_string(rules_of(name, m.policy()).window_ms);
  redis_.run_script("breaker_read", {keys.state, keys.probe, keys.trips, keys.counts}, {window},
                    [v = std::move(v), done = std::move(done)](redis_reply r) mutable {
                      if (r.kind == reply_kind::array && r.elements.size() >= 10) {
                        fleet_view f;
                        auto now_ms = r.elements[0].integer;
                        f.state = r.elements[1].str;
                        f.generation = r.elements[2].integer;
                        f.open_remaining_ms = r.elements[3].integer;
                        f.tripped_by = r.elements[4].str;
                        if (r.elements[5].integer > 0)
                          f.tripped_ago_ms = now_ms - r.elements[5].integer;
                        f.consecutive_trips = r.elements[6].integer;
                        f.probe_holder = r.elements[7].str;
                        const auto& trips = r.elements[8].elements;
                        for (std::size_t i = 0; i + 1 < trips.size(); i += 2)
                          f.trips.emplace_back(
                              trips[i].str,
                              now_ms - std::strtoll(trips[i + 1].str.c_str(), nullptr, 10));
                        const auto& counts = r.elements[9].elements;
                        for (std::size_t i = 0; i + 1 < counts.size(); i += 2) {
                          auto text = counts[i + 1].str;
                          text = text.substr(0, text.rfind(' ')); // without when it was written
                          f.counts.emplace_back(counts[i].str, text);
                        }
                        v.fleet = std::move(f);
                      }
                      done(std::move(v));
                    });
}

result<std::pair<breaker_state, std::int64_t>> breaker_service::peek(const std::string& name) {
  if (name == redis_breaker_name)
    return std::make_pair(redis_breaker_answer().state, std::int64_t{0});
  auto found = find_or_create(name);
  if (!found) return std::move(found).error();
  auto* e = *found;
  e->machine.advance(now_());
  return std::make_pair(e->machine.state(), e->machine.generation());
}

std::vector<std::pair<std::string, breaker_state>> breaker_service::list() {
  std::vector<std::pair<std::string, breaker_state>> out;
  auto now = now_();
  for (auto& [name, e] : breakers_) {
    e->machine.advance(now);
    out.emplace_back(name, e->machine.state());
  }
  std::sort(out.begin(), out.end());
  out.insert(out.begin(), {redis_breaker_name, redis_breaker_answer().state});
  return out;
}

void breaker_service::force(const std::string& name, force_mode mode, const std::string& who,
                            std::function<void(result<forced>)> done) {
  using protocol::error_code;
  if (name == redis_breaker_name)
    return done(protocol::fail(
        error_code::err,
        "'" + name + "' is the daemon's own breaker around Redis: it cannot be forced"));
  auto found = find_or_create(name);
  if (!found) return done(std::move(found).error());
  auto* e = *found;
  ++counters_.forced;
  const char* word = mode == force_mode::open     ? "open"
                     : mode == force_mode::closed ? "closed"
                                                  : "auto";
  log::info("breaker", "forced", {{"breaker", name}, {"mode", word}, {"by", who}});
  auto keys = keys_for(settings_.prefix, name);
  auto floor = std::to_string(e->machine.generation());
  // Idempotent (the same state pinned again, under a newer generation): a lost answer is
  // asked once more, then UNKNOWN.
  redis_link::run_idempotent(
      redis_, "breaker_force", {keys.state, keys.probe, keys.trips},
      {word, settings_.node_id, floor, events_channel(settings_.prefix), name},
      [this, name, alive = std::weak_ptr<bool>(alive_), done = std::move(done)](redis_reply r,
                                                                                bool) {
        if (!alive.lock()) return;
        if (r.is_unavailable())
          return done(unanswered(r, "the breaker may or may not be forced: FORCE it again, "
                                    "which is safe"));
        if (r.kind != reply_kind::array || r.elements.size() < 3)
          return done(protocol::fail(error_code::unavailable,
                                     r.str.empty() ? "unexpected reply from redis" : r.str));
        forced f;
        f.state = parse_state(r.elements[1].str).value_or(breaker_state::closed);
        f.generation = r.elements[2].integer;
        shared_state shared;
        shared.state = f.state;
        shared.generation = f.generation;
        shared.tripped_by = settings_.node_id;
        adopt(name, shared); // here at once; the others by the announcement
        done(f);
      });
}

// -- metrics -------------------------------------------------------------------------------

void breaker_service::render_metrics(std::string& out) const {
  metrics::exposition e(out);
  auto counter = [&e](const char* name, const char* help, std::uint64_t value) {
    e.declare(name, "counter", help);
    e.sample(name, value);
  };
  counter("baton_breaker_checks_total", "BREAKER CHECK calls answered (from memory).",
          counters_.checks);
  counter("baton_breaker_denied_total", "BREAKER CHECK calls that were not allowed.",
          counters_.denied);
  counter("baton_breaker_reports_total", "BREAKER REPORT calls counted.", counters_.reports);
  counter("baton_breaker_trips_total", "Breakers opened on this host (its own data or a probe).",
          counters_.trips);
  counter("baton_breaker_adopted_total", "States decided elsewhere in the fleet and applied here.",
          counters_.adopted);
  counter("baton_breaker_forced_total", "BREAKER FORCE calls.", counters_.forced);
  std::uint64_t open = 0;
  for (const auto& [name, b] : breakers_)
    open += b->machine.state() == breaker_state::open ||
            b->machine.state() == breaker_state::forced_open;
  e.declare("baton_breaker_open", "gauge", "Breakers open (or forced open) on this host.");
  e.sample("baton_breaker_open", open);
}

} // namespace baton::breaker
