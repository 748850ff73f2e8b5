// Secrets served from memory; see secret_service.hpp. Keeping the cache fresh is in
// secret_cache.cpp, REWRAP in secret_rewrap.cpp.
#include "services/secret/secret_service.hpp"

#include <boost/asio/post.hpp>
#include <caf/send.hpp>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include <algorithm>
#include <memory>

#include "common/log.hpp"
#include "metrics/exposition.hpp"
#include "model/secret/secret_keys.hpp"

#include "services/secret/secret_service_internal.hpp"

namespace baton::secret {

using redis_link::redis_reply;
using redis_link::reply_kind;

secret_service::secret_service(boost::asio::io_context& io, redis_link::redis_pool& redis,
                               const keyring& keys, secret_service_settings settings)
    : redis_(redis), keys_(keys), settings_(std::move(settings)), io_(io),
      audit_(io, redis, settings_.node_id, audit_stream(settings_.prefix),
             settings_.config.audit_max_entries, settings_.config.audit_flush) {}

secret_service::~secret_service() = default;

// -- lifecycle -----------------------------------------------------------------------------

void secret_service::start(redis_link::redis_subscriber& events) {
  events.subscribe(events_channel(settings_.prefix), [this](const std::string& payload) {
    if (cache_) caf::anon_send(cache_, atoms::announce::value, payload);
  });
  // Announcements sent while the subscription was down are lost: reload what is cached.
  events.on_resubscribed([this] {
    if (cache_) caf::anon_send(cache_, atoms::reload_all::value);
  });
  for (const auto& item : settings_.config.items)
    load(item.name);
  audit_.start();
}

void secret_service::stop() {
  stopped_ = true;
  audit_.flush();
  if (cache_) caf::anon_send_exit(cache_, caf::exit_reason::user_shutdown);
  cache_ = secret_cache_actor{};
  load_waiters_.clear(); // on this thread: they may hold client connections
  // A rotation stopped at any step leaves the served versions as they were; the next one
  // finishes or rolls back what it left pending.
  for (auto& [id, rotation] : rotations_)
    caf::anon_send_exit(rotation, caf::exit_reason::user_shutdown);
  rotations_.clear();
  rotation_callbacks_.clear(); // on this thread: they may hold client connections
  rotation_deps_.reset();
}

void secret_service::use_actors(caf::actor_system& system, redis_link::redis_link_actor link,
                                hook_runner_actor hooks, std::shared_ptr<const keyring> keys) {
  actors_ = &system;
  auto deps = std::make_shared<rotation_deps>();
  deps->link = std::move(link);
  deps->hooks = std::move(hooks);
  deps->keys = std::move(keys);
  deps->settings = settings_.config;
  deps->prefix = settings_.prefix;
  deps->node_id = settings_.node_id;
  deps->run_id = settings_.run_id;
  deps->sharded_watch = settings_.sharded_watch;
  deps->on_step = [](const std::string& name, rotation_step step) {
    log::debug("secret", "rotation step", {{"secret", name}, {"step", to_string(step)}});
  };
  rotation_deps_ = std::move(deps);

  secret_cache_deps cache;
  cache.link = rotation_deps_->link;
  cache.keys = rotation_deps_->keys;
  cache.settings = settings_.config;
  cache.prefix = settings_.prefix;
  cache.node_id = settings_.node_id;
  cache.max_cached = settings_.config.cache_max_entries;
  cache_counters_ = cache.counters;
  auto alive = std::weak_ptr<bool>(alive_);
  auto& io = io_;
  cache.tell = [&io, alive, this](std::vector<cache_news> news) {
    boost::asio::post(io, [alive, this, news = std::move(news)]() mutable {
      if (alive.lock()) on_cache_news(std::move(news));
    });
  };
  cache_ = spawn_secret_cache(system, std::move(cache));
}

void secret_service::rotate(rotation_request request, rotation_callback then) {
  if (!actors_ || !rotation_deps_)
    return then(fail(error_code::err, "rotations are not running (the daemon is stopping)"));
  auto id = ++next_rotation_;
  auto alive = std::weak_ptr<bool>(alive_);
  auto& io = io_;
  // The continuation stays here, on the I/O thread (it may hold a client's connection): only
  // the rotation's id crosses into the actor and back.
  rotation_callbacks_.emplace(id, std::move(then));
  auto rotation =
      spawn_rotation(*actors_, rotation_deps_, std::move(request),
                     [&io, alive, id, this](result<rotation_success> r) {
                       boost::asio::post(io, [alive, id, this, r = std::move(r)]() mutable {
                         if (!alive.lock()) return;
                         rotations_.erase(id);
                         auto it = rotation_callbacks_.find(id);
                         if (it == rotation_callbacks_.end()) return;
                         auto continuation = std::move(it->second);
                         rotation_callbacks_.erase(it);
                         continuation(std::move(r));
                       });
                     });
  rotations_.emplace(id, std::move(rotation));
}

// -- the commands --------------------------------------------------------------------------

void secret_service::get(const std::string& name, secret_caller who,
                         secret_callback<std::optional<secret_value>> done) {
  with_entry(name, [this, name, who, done = std::move(done)](const served_secret* entry, bool) {
    if (!entry) {
      audit(who, "get", name, "unavailable");
      return done(fail(error_code::unavailable,
                       "redis is unreachable and secret '" + name + "' is not cached here"));
    }
    if (!entry->error.empty()) {
      audit(who, "get", name, "error: cannot decrypt");
      return done(fail(error_code::err, entry->error));
    }
    if (!entry->exists || !entry->current) {
      audit(who, "get", name, "absent");
      return done(std::optional<secret_value>());
    }
    secret_value a;
    a.value.assign(entry->current->value->view());
    a.version = entry->current->version;
    a.state = "current";
    a.degraded = degraded(*entry);
    a.epoch = entry->epoch;
    count_use(name, a.version);
    ++counters_.gets;
    if (a.degraded) ++counters_.degraded;
    audit_.record({who.uid, who.pid, "get", name, a.version, "ok"});
    done(std::move(a));
  });
}

void secret_service::verify(const std::string& name, std::string candidate, secret_caller who,
                            secret_callback<std::optional<verify_verdict>> done) {
  auto digest = digest_of(candidate);
  OPENSSL_cleanse(candidate.data(), candidate.size());
  // Compares with every served version, without stopping at a match, in constant time per
  // comparison (digests of equal length, so the candidate's length does not show either).
  auto check = [this, name, digest](const served_secret& entry) -> verify_verdict {
    auto now = clock::now();
    const served_version* match = nullptr;
    bool is_current = false;
    if (entry.current && CRYPTO_memcmp(entry.current->digest.data(), digest.data(), 32) == 0) {
      match = &*entry.current;
      is_current = true;
    }
    for (const auto& v : entry.previous)
      if (CRYPTO_memcmp(v.digest.data(), digest.data(), 32) == 0 && v.verify_until > now && !match)
        match = &v;
    if (!match) return secret_no_match{degraded(entry), entry.epoch};
    count_use(name, match->version);
    return secret_match{match->version, is_current ? "current" : "previous", degraded(entry),
                        entry.epoch};
  };
  auto finish = [this, name, who, done](verify_verdict verdict) {
    if (const auto* m = std::get_if<secret_match>(&verdict)) {
      ++(m->state == "current" ? counters_.verified_current : counters_.verified_previous);
      if (m->degraded) ++counters_.degraded;
      audit_.record({who.uid, who.pid, "verify", name, m->version, m->state});
    } else {
      ++counters_.not_matched;
      if (std::get<secret_no_match>(verdict).degraded) ++counters_.degraded;
      audit_.record({who.uid, who.pid, "verify", name, 0, "no-match"});
    }
    done(std::optional<verify_verdict>(std::move(verdict)));
  };
  with_entry(name, [this, name, who, check, finish, done](const served_secret* entry, bool) {
    if (!entry) {
      audit(who, "verify", name, "unavailable");
      return done(fail(error_code::unavailable,
                       "redis is unreachable and secret '" + name + "' is not cached here"));
    }
    if (!entry->exists && entry->error.empty()) {
      audit(who, "verify", name, "absent");
      return done(std::optional<verify_verdict>());
    }
    auto verdict = check(*entry);
    if (std::holds_alternative<secret_match>(verdict)) return finish(std::move(verdict));
    // The caller may hold a version promoted a moment ago whose announcement is still on its
    // way here: read Redis once more before saying no. Without Redis there is no telling, and
    // "no match" would be a wrong answer to a caller holding a newer key than this daemon saw
    // (the chaos harness caught a lossy link refusing the current version): UNAVAILABLE.
    auto cannot_tell = [this, name, who, done] {
      ++counters_.degraded;
      audit(who, "verify", name, "unavailable");
      done(fail(error_code::unavailable,
                "no version served here matches, and redis is unreachable to tell whether a "
                "newer one does"));
    };
    if (!redis_.reachable()) return cannot_tell();
    load(name, [this, name, check, finish, cannot_tell](bool loaded) {
      auto it = served_.find(name);
      verify_verdict again = secret_no_match{};
      if (it != served_.end()) again = check(*it->second);
      if (std::holds_alternative<secret_match>(again) || loaded) return finish(std::move(again));
      cannot_tell();
    });
  });
}

void secret_service::info(const std::string& name, secret_caller who,
                          secret_callback<std::optional<secret_info>> done) {
  audit(who, "info", name, "ok");
  describe(name, std::move(done));
}

void secret_service::describe(const std::string& name,
                              secret_callback<std::optional<secret_info>> done) {
  auto keys = keys_for(settings_.prefix, name);
  auto result = std::make_shared<secret_info>();
  redis_.run_script("secret_read", {keys.record}, {}, [=](redis_reply r) {
    if (r.is_error() || !parse_record(r, result->record))
      return done(fail(error_code::unavailable, r.str));
    if (!result->record.exists() && result->record.pending == 0)
      return done(std::optional<secret_info>());
    redis_.call({"HGETALL", keys.acks}, [=](redis_reply acks) {
      if (acks.is_error()) return done(fail(error_code::unavailable, acks.str));
      for (std::size_t i = 0; i + 1 < acks.elements.size(); i += 2) {
        node_ack n;
        n.node = acks.elements[i].str;
        const auto& text = acks.elements[i + 1].str;
        auto space = text.find(' ');
        n.version = std::strtoll(text.c_str(), nullptr, 10);
        if (space != std::string::npos)
          n.age_ms =
              result->record.redis_now_ms - std::strtoll(text.c_str() + space + 1, nullptr, 10);
        result->nodes.push_back(std::move(n));
      }
      redis_.call({"HGETALL", keys.usage}, [=](redis_reply usage) {
        if (usage.is_error()) return done(fail(error_code::unavailable, usage.str));
        for (std::size_t i = 0; i + 1 < usage.elements.size(); i += 2)
          result->uses[std::strtoll(usage.elements[i].str.c_str(), nullptr, 10)] +=
              std::strtoll(usage.elements[i + 1].str.c_str(), nullptr, 10);
        auto it = unflushed_uses_.find(name); // this node's uses not flushed yet
        if (it != unflushed_uses_.end())
          for (const auto& [version, uses] : it->second)
            result->uses[version] += uses;
        done(std::optional<secret_info>(std::move(*result)));
      });
    });
  });
}

void secret_service::change(const std::string& name, std::optional<secure_bytes> value, bool hooks,
                            const std::string& command, secret_caller who,
                            secret_callback<secret_changed> done) {
  rotation_request request;
  request.name = name;
  request.value = std::move(value);
  request.hooks = hooks;
  request.grace = grace_of(name);
  if (auto* item = settings_.config.item(name)) request.item = *item;
  if (auto it = served_.find(name); it != served_.end())
    request.version_floor = it->second->highest_version;
  rotate(std::move(request),
         [this, name, command, who, done = std::move(done)](result<rotation_success> r) {
           // PUT and ROTATE are never due-checked (due is 0), so "not due" cannot come back
           // here; if it did, the change did not happen: a failure.
           const rotated* done_rotation = r ? std::get_if<rotated>(&*r) : nullptr;
           if (!done_rotation) {
             auto failed = r ? fail(error_code::err, "internal error: the rotation was not due")
                             : std::move(r).error();
             bool busy = failed.code == error_code::busy;
             ++(busy ? counters_.rotations_busy : counters_.rotations_failed);
             audit(who, command, name, busy ? "busy" : "error: " + failed.why);
             return done(std::move(failed));
           }
           auto o = *done_rotation;
           ++counters_.rotations_done;
           audit_.record({who.uid, who.pid, command, name, o.version,
                          o.finished_earlier ? "ok (finished a half-done rotation)" : "ok"});
           // Serve the new version here before answering, so that a GET after the reply sees it.
           load(name, [done, o](bool) {
             done(secret_changed{o.version, o.previous, o.epoch, o.finished_earlier});
           });
         });
}

void secret_service::audit(secret_caller who, const std::string& command, const std::string& name,
                           const std::string& result) {
  if (result == "refused") ++counters_.refusals;
  audit_.record({who.uid, who.pid, command, name, 0, result});
}

// -- metrics -------------------------------------------------------------------------------

void secret_service::render_metrics(std::string& out) const {
  metrics::exposition e(out);
  auto counter = [&](const char* name, const char* help, std::uint64_t value) {
    e.declare(name, "counter", help);
    e.sample(name, value);
  };
  counter("baton_secret_gets_total", "SECRET GET answered with a value (from memory).",
          counters_.gets);
  e.declare("baton_secret_verifies_total", "counter",
            "SECRET VERIFY answers, by what the candidate matched.");
  e.sample("baton_secret_verifies_total{result=\"current\"}", counters_.verified_current);
  e.sample("baton_secret_verifies_total{result=\"previous\"}", counters_.verified_previous);
  e.sample("baton_secret_verifies_total{result=\"no_match\"}", counters_.not_matched);
  e.declare("baton_secret_rotations_total", "counter",
            "PUT, ROTATE and scheduled rotations run by this daemon, by outcome.");
  e.sample("baton_secret_rotations_total{result=\"done\"}", counters_.rotations_done);
  e.sample("baton_secret_rotations_total{result=\"busy\"}", counters_.rotations_busy);
  e.sample("baton_secret_rotations_total{result=\"failed\"}", counters_.rotations_failed);
  auto cache_count = [this](std::atomic<std::uint64_t> secret_cache_counters::*field) {
    return cache_counters_ ? ((*cache_counters_).*field).load() : std::uint64_t{0};
  };
  counter("baton_secret_reloads_total", "Secrets read from Redis into this daemon's memory.",
          cache_count(&secret_cache_counters::reloads));
  counter("baton_secret_degraded_total",
          "GET and VERIFY answered from memory while Redis was unreachable.", counters_.degraded);
  counter("baton_secret_decrypt_failures_total",
          "Versions that could not be decrypted (tampered, or wrapped by an unknown KEK).",
          cache_count(&secret_cache_counters::decrypt_failures));
  counter("baton_secret_refusals_total", "SECRET calls refused by the access rules.",
          counters_.refusals);
  counter("baton_secret_cache_evictions_total",
          "Secret names dropped from memory for a new one past secrets.cache_max_entries.",
          cache_count(&secret_cache_counters::evictions));
  e.declare("baton_secret_cached", "gauge", "Secret names held in this daemon's memory.");
  e.sample("baton_secret_cached", cache_count(&secret_cache_counters::cached));
}

} // namespace baton::secret
