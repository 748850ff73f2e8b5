// The near cache and its Redis side; see cache_service.hpp.
#include "services/cache/cache_service.hpp"

#include "common/log.hpp"
#include "metrics/exposition.hpp"
#include "redis/idempotent_call.hpp"
#include "services/state/state_keys.hpp"
#include "services/unanswered.hpp"

namespace baton::cache {

using protocol::error_code;
using protocol::fail;
using protocol::failure;
using protocol::result;
using redis_link::redis_reply;
using redis_link::reply_kind;

namespace {

std::int64_t ms_until(clock::time_point end, clock::time_point now) {
  return std::max<std::int64_t>(
      0, std::chrono::duration_cast<std::chrono::milliseconds>(end - now).count());
}

} // namespace

/// One namespace: its near cache, the reads of Redis in flight (each key's waiters share one),
/// and what reached Redis.
struct cache_service::space {
  explicit space(std::size_t max_bytes) : near(max_bytes) {}
  near_cache near;
  struct fill_waiters {
    std::vector<cache_callback<std::optional<cached>>> waiters;
  };
  /// Keys being read from Redis. An invalidation detaches the key's fill (later GETs start
  /// their own), so that a GET after a write never joins a read sent before it.
  std::map<std::string, std::shared_ptr<fill_waiters>> fills;
  std::uint64_t redis_hits = 0;
  std::uint64_t redis_misses = 0;
};

cache_service::cache_service(redis_link::redis_pool& redis, cache_config config,
                             std::string prefix)
    : redis_(redis), config_(std::move(config)), prefix_(std::move(prefix)) {
  for (const auto& ns : config_.namespaces)
    spaces_.emplace(ns.name, std::make_unique<space>(ns.near_max_bytes));
}

cache_service::~cache_service() = default;

cache_service::space& cache_service::space_of(const cache_namespace& ns) {
  return *spaces_.at(ns.name);
}

std::string cache_service::entry_key(const cache_namespace& ns, const std::string& key) const {
  return prefix_ + ":cache:" + ns.name + ":{" + key + "}";
}

void cache_service::listen(redis_link::redis_subscriber& events) {
  events_ = &events;
  events.subscribe(
      channel(prefix_), [this](const std::string& payload) { on_message(payload); },
      [this] {
        // Subscribed (again): from now on no invalidation is missed. What was cached before
        // may have missed some while the channel was down: it goes.
        if (!following_)
          for (auto& [name, s] : spaces_)
            s->near.flush();
        following_ = true;
      });
  events.on_lost([this] {
    if (following_)
      log::warn("cache", "the invalidation channel is down: near caches answer only while "
                         "Redis cannot be reached (degraded) until it is back");
    following_ = false;
    distrust();
  });
}

void cache_service::distrust() {
  // Entries stay, for the degraded answers of a Redis that cannot be reached; reads in flight
  // may have missed an invalidation, so none of them is cached.
  for (auto& [name, s] : spaces_) {
    s->near.refuse_fills();
    s->fills.clear();
  }
}

void cache_service::on_message(const std::string& payload) {
  // "k <namespace> <key>" or "p <namespace> <pattern>": names have no spaces, keys may.
  if (payload.size() < 4 || payload[1] != ' ') return;
  auto space_at = payload.find(' ', 2);
  if (space_at == std::string::npos) return;
  auto it = spaces_.find(payload.substr(2, space_at - 2));
  if (it == spaces_.end()) return; // a namespace this daemon does not have
  auto rest = payload.substr(space_at + 1);
  auto& s = *it->second;
  if (payload[0] == 'k') {
    s.near.invalidate(rest);
    s.fills.erase(rest);
  } else if (payload[0] == 'p') {
    s.near.invalidate_matching(rest);
    for (auto f = s.fills.begin(); f != s.fills.end();)
      f = pattern_matches(rest, f->first) ? s.fills.erase(f) : std::next(f);
  }
}

std::optional<near_hit> cache_service::near_hit_now(const cache_namespace& ns,
                                                    const std::string& key,
                                                    clock::time_point now) {
  if (ns.near_max_bytes == 0 || !following_) return std::nullopt;
  // An invalidation may be among bytes that arrived and are not read yet (this daemon was
  // busy): Redis answers this one instead (bench/cache_propagation.py: under load this took
  // the first reads still old after a write's reply from 47 in 500 rounds to 0).
  if (config_.strict && events_ != nullptr && events_->has_unread()) return std::nullopt;
  return space_of(ns).near.get(key, now);
}

void cache_service::get(const cache_namespace& ns, const std::string& key,
                        cache_callback<std::optional<cached>> done) {
  auto now = clock::now();
  if (auto hit = near_hit_now(ns, key, now))
    return done(
        std::optional<cached>(cached{*hit->value, ms_until(hit->expires, now), true, false}));
  read_through(ns, key, std::move(done));
}

void cache_service::forget(space& s, const std::string& key) {
  s.near.invalidate(key);
  s.fills.erase(key);
}

void cache_service::read_through(const cache_namespace& ns, const std::string& key,
                                 cache_callback<std::optional<cached>> done) {
  auto& s = space_of(ns);
  auto now = clock::now();
  bool use_near = ns.near_max_bytes > 0;
  if (!redis_.reachable()) {
    // Redis cannot be asked: what is cached is served within its Redis TTL, and says so.
    if (use_near)
      if (auto hit = s.near.get_stale(key, now))
        return done(std::optional<cached>(cached{*hit->value, ms_until(hit->expires, now), true,
                                                 true}));
    return done(fail(error_code::unavailable, "redis is unreachable, and '" + key +
                                                  "' is not in this daemon's near cache"));
  }
  fill(s, ns, key, std::move(done));
}

void cache_service::fill(space& s, const cache_namespace& ns, const std::string& key,
                         cache_callback<std::optional<cached>> done) {
  // Join a read in flight only when no invalidation waits unread: one may concern this key, and
  // the read in flight may have been sent before its write.
  if (auto joined = s.fills.find(key);
      joined != s.fills.end() && !(config_.strict && events_ && events_->has_unread())) {
    joined->second->waiters.push_back(std::move(done));
    return;
  }
  auto waiters = std::make_shared<space::fill_waiters>();
  waiters->waiters.push_back(std::move(done));
  s.fills.emplace(key, waiters);
  auto ticket = s.near.begin_fill();
  auto fresh_for = std::chrono::duration_cast<clock::duration>(ns.near_ttl);
  bool use_near = ns.near_max_bytes > 0;
  redis_.run_script(
      "cache_get", {entry_key(ns, key)}, {},
      [this, &s, key, ticket, fresh_for, use_near, waiters](redis_reply reply) {
        if (auto it = s.fills.find(key); it != s.fills.end() && it->second == waiters)
          s.fills.erase(it);
        auto now = clock::now();
        auto answer = [&](const result<std::optional<cached>>& r) {
          for (auto& w : waiters->waiters)
            w(r);
        };
        if (reply.kind != reply_kind::array) {
          s.near.abandon_fill();
          if (reply.is_unavailable() && use_near)
            if (auto hit = s.near.get_stale(key, now))
              return answer(std::optional<cached>(
                  cached{*hit->value, ms_until(hit->expires, now), true, true}));
          return answer(unexpected_reply(reply));
        }
        if (reply.elements.empty()) {
          s.near.abandon_fill();
          ++s.redis_misses;
          return answer(std::optional<cached>());
        }
        if (reply.elements.size() != 2 || reply.elements[1].kind != reply_kind::integer) {
          s.near.abandon_fill();
          return answer(unexpected_reply(reply));
        }
        ++s.redis_hits;
        auto ttl_ms = reply.elements[1].integer;
        cached out{std::move(reply.elements[0].str), ttl_ms, false, false};
        // Only while the channel is followed: a fill made while it is down could miss the
        // invalidation that follows it.
        if (use_near && following_ && ttl_ms > 0)
          s.near.admit(key, out.value, ticket, now, fresh_for,
                       now + std::chrono::milliseconds(ttl_ms));
        else
          s.near.abandon_fill();
        answer(std::optional<cached>(std::move(out)));
      });
}

void cache_service::set(const cache_namespace& ns, const std::string& key, std::string value,
                        milliseconds ttl, cache_callback<stored> done) {
  auto& s = space_of(ns);
  // This daemon's own copy goes now, and again on the answer (see forget): its next GET
  // reads the new value from Redis.
  forget(s, key);
  redis_link::run_idempotent(
      redis_, "cache_set", {entry_key(ns, key)},
      {std::move(value), std::to_string(ttl.count()), channel(prefix_), "k " + ns.name + " " + key},
      [this, &s, key, done = std::move(done)](redis_reply reply, bool) {
        forget(s, key);
        if (reply.is_unavailable())
          return done(unanswered(reply, "the value may or may not be stored: SET it again"));
        if (reply.kind != reply_kind::integer) return done(unexpected_reply(reply));
        done(stored{});
      });
}

void cache_service::remove(const cache_namespace& ns, std::vector<std::string> keys,
                           cache_callback<tally> done) {
  auto& s = space_of(ns);
  std::vector<std::string> redis_keys;
  for (const auto& k : keys) {
    forget(s, k);
    redis_keys.push_back(entry_key(ns, k));
  }
  auto groups = state::group_by_slot(redis_keys, redis_.clustered());
  struct gather {
    std::size_t left = 0;
    std::int64_t deleted = 0;
    std::optional<failure> failed;
  };
  auto g = std::make_shared<gather>();
  g->left = groups.size();
  auto shared_done = std::make_shared<cache_callback<tally>>(std::move(done));
  for (const auto& group : groups) {
    std::vector<std::string> call_keys;
    std::vector<std::string> args{channel(prefix_), ns.name};
    for (auto i : group) {
      call_keys.push_back(redis_keys[i]);
      args.push_back(keys[i]);
    }
    std::vector<std::string> group_keys;
    for (auto i : group)
      group_keys.push_back(keys[i]);
    redis_link::run_idempotent(
        redis_, "cache_delete", std::move(call_keys), std::move(args),
        [this, &s, group_keys = std::move(group_keys), g, shared_done](redis_reply reply, bool) {
          for (const auto& k : group_keys)
            forget(s, k);
          if (reply.kind == reply_kind::integer)
            g->deleted += reply.integer;
          else if (!g->failed || reply.outcome_unknown())
            g->failed = reply.is_unavailable()
                            ? unanswered(reply, "the entries may or may not be deleted: "
                                                "INVALIDATE them again")
                            : unexpected_reply(reply);
          if (--g->left > 0) return;
          if (g->failed) return (*shared_done)(std::move(*g->failed));
          (*shared_done)(tally{g->deleted});
        });
  }
}

void cache_service::remove_matching(const cache_namespace& ns, const std::string& pattern,
                                    cache_callback<tally> done) {
  auto message = "p " + ns.name + " " + pattern;
  // Dropped everywhere at once, and again when the deletes are done (a fill that read an
  // entry before its delete is then refused, or dropped).
  on_message(message);
  redis_.call({"PUBLISH", channel(prefix_), message}, [](redis_reply) {});
  struct clearing {
    std::int64_t deleted = 0;
    std::size_t pending = 0;
    bool scanned = false;
    std::optional<failure> failed;
    cache_callback<tally> done;
  };
  auto c = std::make_shared<clearing>();
  c->done = std::move(done);
  auto finish = [this, c, message]() {
    if (!c->scanned || c->pending > 0 || !c->done) return;
    on_message(message);
    auto d = std::move(c->done);
    c->done = nullptr;
    // Published also after a failure part way: what was deleted must go from every near cache.
    redis_.call({"PUBLISH", channel(prefix_), message},
                [d, deleted = c->deleted, failed = c->failed](redis_reply reply) {
                  if (failed) return d(*failed);
                  if (reply.is_error())
                    return d(unanswered(reply, "the entries are deleted in Redis, and the near "
                                               "caches may keep them up to their near TTL"));
                  d(tally{deleted});
                });
  };
  auto clustered = redis_.clustered();
  auto match = state::glob_escape(prefix_ + ":cache:" + ns.name + ":") + "{" + pattern + "}";
  redis_.scan(
      match,
      [this, c, clustered, finish](std::vector<std::string>& keys) {
        for (auto& group : state::group_by_slot(keys, clustered)) {
          std::vector<std::string> batch;
          for (auto i : group)
            batch.push_back(keys[i]);
          ++c->pending;
          redis_link::run_idempotent(redis_, "cache_delete", std::move(batch),
                                     {channel(prefix_), ""}, [c, finish](redis_reply reply, bool) {
                                       --c->pending;
                                       if (reply.kind == reply_kind::integer)
                                         c->deleted += reply.integer;
                                       else if (!c->failed)
                                         c->failed = unanswered(
                                             reply, "INVALIDATE stopped part way: run it again");
                                       finish();
                                     });
        }
        return !c->failed;
      },
      [c, finish](std::optional<std::string> error) {
        c->scanned = true;
        if (error && !c->failed)
          c->failed = fail(error_code::unavailable,
                           "INVALIDATE stopped part way (" + *error + "): run it again");
        finish();
      });
}

std::vector<namespace_stats> cache_service::stats() const {
  std::vector<namespace_stats> out;
  for (const auto& ns : config_.namespaces) {
    const auto& s = *spaces_.at(ns.name);
    out.push_back({ns.name, s.near.stats(), s.redis_hits, s.redis_misses, s.near.bytes(),
                   s.near.entries(), s.near.max_bytes()});
  }
  return out;
}

void cache_service::render_metrics(std::string& out) const {
  if (config_.namespaces.empty()) return;
  metrics::exposition e(out);
  auto all = stats();
  auto family = [&](const char* name, const char* type, const char* help, auto value) {
    e.declare(name, type, help);
    for (const auto& s : all)
      e.sample(std::string(name) + "{namespace=\"" + metrics::escape_label(s.name) + "\"}",
               static_cast<std::uint64_t>(value(s)));
  };
  family("baton_cache_near_hits_total", "counter", "CACHE GETs answered from the near cache.",
         [](const namespace_stats& s) { return s.near.hits; });
  family("baton_cache_near_misses_total", "counter",
         "CACHE GETs the near cache could not answer (read from Redis).",
         [](const namespace_stats& s) { return s.near.misses; });
  family("baton_cache_redis_hits_total", "counter", "Near-cache misses that Redis had.",
         [](const namespace_stats& s) { return s.redis_hits; });
  family("baton_cache_redis_misses_total", "counter", "CACHE GETs of keys Redis did not have.",
         [](const namespace_stats& s) { return s.redis_misses; });
  family("baton_cache_evictions_total", "counter",
         "Near-cache entries pushed out by its byte budget.",
         [](const namespace_stats& s) { return s.near.evictions; });
  family("baton_cache_invalidations_total", "counter",
         "Near-cache entries dropped by an invalidation or a flush.",
         [](const namespace_stats& s) { return s.near.invalidations; });
  family("baton_cache_fills_refused_total", "counter",
         "Reads from Redis not cached because an invalidation overtook them.",
         [](const namespace_stats& s) { return s.near.fills_refused; });
  family("baton_cache_near_bytes", "gauge", "Bytes the near cache holds (keys, values, overhead).",
         [](const namespace_stats& s) { return s.bytes; });
  family("baton_cache_near_entries", "gauge", "Entries the near cache holds.",
         [](const namespace_stats& s) { return s.entries; });
  e.declare("baton_cache_following", "gauge",
            "1 while the invalidation channel is followed (near caches in use).");
  e.sample("baton_cache_following", static_cast<std::uint64_t>(following_ ? 1 : 0));
}

} // namespace baton::cache
