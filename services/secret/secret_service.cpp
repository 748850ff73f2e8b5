// Secrets served from memory; see secret_service.hpp.
#include "services/secret/secret_service.hpp"

#include <boost/asio/post.hpp>
#include <caf/send.hpp>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include <algorithm>
#include <memory>

#include "metrics/exposition.hpp"
#include "model/secret/secret_keys.hpp"
#include "common/log.hpp"

namespace baton::secret {
namespace {

using redis_link::redis_reply;
using redis_link::reply_kind;

constexpr std::size_t max_cached = 10000; ///< names this daemon serves from memory

std::int64_t system_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// SHA-256 with the algorithm fetched once and one context per thread reused: EVP_Digest
// fetches and allocates on every call, which showed in VERIFY's throughput.
std::array<unsigned char, 32> digest_of(std::string_view bytes) {
  static EVP_MD* sha256 = EVP_MD_fetch(nullptr, "SHA256", nullptr);
  thread_local std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> context(EVP_MD_CTX_new(),
                                                                               &EVP_MD_CTX_free);
  std::array<unsigned char, 32> out{};
  unsigned int size = 0;
  if (!sha256 || !context || EVP_DigestInit_ex(context.get(), sha256, nullptr) != 1 ||
      EVP_DigestUpdate(context.get(), bytes.data(), bytes.size()) != 1 ||
      EVP_DigestFinal_ex(context.get(), out.data(), &size) != 1)
    EVP_Digest(bytes.data(), bytes.size(), out.data(), &size, EVP_sha256(), nullptr);
  return out;
}

secret_answer answer(secret_answer::kind what, std::string why = {}) {
  secret_answer a;
  a.what = what;
  a.why = std::move(why);
  return a;
}

} // namespace

secret_service::secret_service(boost::asio::io_context& io, redis_link::redis_pool& redis,
                               const keyring& keys, secret_service_settings settings)
    : redis_(redis), keys_(keys), settings_(std::move(settings)), io_(io),
      audit_(io, redis, settings_.node_id, audit_stream(settings_.prefix),
             settings_.config.audit_max_entries, settings_.config.audit_flush),
      refresh_timer_(io) {}

secret_service::~secret_service() = default;

// -- lifecycle -----------------------------------------------------------------------------

void secret_service::start(redis_link::redis_subscriber& events) {
  events.subscribe(events_channel(settings_.prefix),
                   [this](const std::string& payload) { on_announcement(payload); });
  // Announcements sent while the subscription was down are lost: reload what is cached.
  events.on_resubscribed([this] {
    for (auto& [name, entry] : cache_)
      if (entry.loaded) load(name);
  });
  for (const auto& item : settings_.config.items)
    load(item.name);
  audit_.start();
  arm_refresh();
}

void secret_service::stop() {
  stopped_ = true;
  refresh_timer_.cancel();
  audit_.flush();
  // A rotation stopped at any step leaves the served versions as they were; the next one
  // finishes or rolls back what it left pending.
  for (auto& [id, rotation] : rotations_)
    caf::anon_send_exit(rotation, caf::exit_reason::user_shutdown);
  rotations_.clear();
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
  deps->on_step = [](const std::string& name, rotation_step step) {
    log::debug("secret", "rotation step", {{"secret", name}, {"step", to_string(step)}});
  };
  rotation_deps_ = std::move(deps);
}

void secret_service::rotate(rotation_request request,
                            std::function<void(rotation_outcome)> then) {
  if (!actors_ || !rotation_deps_) {
    rotation_outcome o;
    o.why = "rotations are not running (the daemon is stopping)";
    return then(std::move(o));
  }
  auto id = ++next_rotation_;
  auto alive = std::weak_ptr<bool>(alive_);
  auto& io = io_;
  auto rotation = spawn_rotation(
      *actors_, rotation_deps_, std::move(request),
      [&io, alive, id, this, then = std::move(then)](rotation_outcome o) mutable {
        // On the rotation's thread: the outcome crosses to the I/O thread, where this service
        // lives (if it still does).
        boost::asio::post(io, [alive, id, this, then = std::move(then), o = std::move(o)]() mutable {
          if (!alive.lock()) return;
          rotations_.erase(id);
          then(std::move(o));
        });
      });
  rotations_.emplace(id, std::move(rotation));
}

void secret_service::arm_refresh() {
  refresh_timer_.expires_after(settings_.config.refresh);
  refresh_timer_.async_wait([this](const boost::system::error_code& ec) {
    if (ec || stopped_) return;
    refresh();
    arm_refresh();
  });
}

// -- keeping the cache fresh ---------------------------------------------------------------

void secret_service::on_announcement(const std::string& payload) {
  // "changed <name> <epoch>"
  auto first = payload.find(' ');
  auto last = payload.rfind(' ');
  if (first == std::string::npos || last == first) return;
  auto name = payload.substr(first + 1, last - first - 1);
  auto epoch = std::strtoll(payload.c_str() + last + 1, nullptr, 10);
  auto it = cache_.find(name);
  if (it == cache_.end() || !it->second.loaded) return; // not served here
  if (epoch > it->second.epoch) load(name);
}

void secret_service::load(const std::string& name, std::function<void(bool)> done) {
  auto& entry = cache_[name];
  if (entry.loading) {
    // The load in flight may have read Redis before what the caller waits for: one more.
    entry.again = true;
    if (done) entry.next_waiting.push_back(std::move(done));
    return;
  }
  if (done) entry.waiting.push_back(std::move(done));
  start_load(name);
}

void secret_service::start_load(const std::string& name) {
  cache_[name].loading = true;
  redis_.run_script("secret_read", {keys_for(settings_.prefix, name).record}, {},
                    [this, name](redis_reply reply) {
                      auto& entry = cache_[name];
                      secret_record record;
                      bool ok = !reply.is_error() && parse_record(reply, record);
                      if (ok) {
                        apply(name, entry, record);
                      } else if (entry.loaded) {
                        entry.stale = true;
                      }
                      entry.loading = false;
                      auto waiters = std::move(entry.waiting);
                      entry.waiting.clear();
                      if (entry.again) {
                        entry.again = false;
                        entry.waiting = std::move(entry.next_waiting);
                        entry.next_waiting.clear();
                        start_load(name);
                      }
                      for (auto& w : waiters)
                        w(ok);
                    });
}

void secret_service::apply(const std::string& name, cached_secret& entry,
                           const secret_record& record) {
  ++counters_.reloads;
  redis_offset_ms_ = record.redis_now_ms - system_ms();
  auto before = entry.current ? entry.current->version : 0;
  bool first_load = !entry.loaded;
  auto now = clock::now();
  // Versions already open here are kept as they are (same sealed bytes), so that a reload
  // after each rotation decrypts only what is new.
  std::map<std::int64_t, served_version> known;
  if (entry.current) known.emplace(entry.current->version, std::move(*entry.current));
  for (auto& v : entry.previous)
    known.emplace(v.version, std::move(v));
  auto reuse = [&](std::int64_t version, const version_record& v, served_version& out) {
    auto it = known.find(version);
    if (it == known.end() || it->second.ciphertext != v.sealed.ciphertext) return false;
    out = std::move(it->second);
    known.erase(it);
    return true;
  };
  auto open_version = [&](std::int64_t version, const version_record& v, served_version& out,
                          std::string& error) {
    if (reuse(version, v, out)) return true;
    out.version = version;
    if (!open(keys_, name, std::to_string(version), v.sealed, out.value, error)) return false;
    out.digest = digest_of(out.value.view());
    out.ciphertext = v.sealed.ciphertext;
    return true;
  };
  entry.error.clear();
  entry.current.reset();
  entry.previous.clear();
  entry.retire_due = false;
  for (const auto& [version, v] : record.versions) {
    std::string error;
    entry.highest_version = std::max(entry.highest_version, version);
    if (v.state == "current") {
      served_version served;
      if (open_version(version, v, served, error)) {
        served.verify_until = clock::time_point::max();
        entry.current = std::move(served);
      } else {
        entry.error = "version " + std::to_string(version) + " of secret '" + name +
                      "' cannot be decrypted: " + error;
        ++counters_.decrypt_failures;
        log::error("secret", "cannot decrypt the current version; GET answers an error",
                   {{"secret", name}, {"version", std::to_string(version)}, {"why", error}});
      }
    } else if (v.state == "previous" && v.grace_until_ms <= record.redis_now_ms) {
      entry.retire_due = true;
    } else if (v.state == "previous") {
      served_version served;
      if (open_version(version, v, served, error)) {
        served.verify_until = now + milliseconds(v.grace_until_ms - record.redis_now_ms);
        entry.previous.push_back(std::move(served));
      } else {
        ++counters_.decrypt_failures;
        log::error("secret", "cannot decrypt a previous version; it does not verify",
                   {{"secret", name}, {"version", std::to_string(version)}, {"why", error}});
      }
    }
  }
  entry.loaded = true;
  entry.stale = false;
  entry.exists = record.exists();
  entry.epoch = record.epoch;
  entry.rotated_at_ms = record.rotated_at_ms;
  auto after = entry.current ? entry.current->version : 0;
  if (after != 0 && after != before) {
    acknowledge(name, after);
    // A first load is no change: watchers hear of versions that come after they watch.
    if (changed_ && !first_load) changed_(name, after, entry.epoch);
  }
}

void secret_service::acknowledge(const std::string& name, std::int64_t version) {
  auto keys = keys_for(settings_.prefix, name);
  redis_.run_script("secret_ack", {keys.record, keys.acks},
                    {settings_.node_id, std::to_string(version)}, [this, name](redis_reply r) {
                      if (r.kind != reply_kind::integer) return;
                      auto it = cache_.find(name);
                      // A missed announcement: Redis has moved on since our last load.
                      if (it != cache_.end() && r.integer > it->second.epoch) load(name);
                    });
}

void secret_service::refresh() {
  auto now = clock::now();
  for (auto& [name, entry] : cache_) {
    if (!entry.loaded) continue;
    if (!entry.exists || entry.stale) {
      // An absent name may have been PUT since; a stale entry missed what Redis said while
      // it was unreachable. Both are cheap to look at again.
      load(name);
      continue;
    }
    if (entry.current) acknowledge(name, entry.current->version);
    if (!entry.unflushed_uses.empty()) {
      std::vector<std::string> args;
      for (const auto& [version, uses] : entry.unflushed_uses) {
        args.push_back(std::to_string(version));
        args.push_back(std::to_string(uses));
      }
      entry.unflushed_uses.clear();
      redis_.run_script("secret_count", {keys_for(settings_.prefix, name).usage}, args,
                        [](redis_reply) {});
    }
    // Grace over for a previous version (or one no longer served): ask Redis to retire it.
    bool grace_over = std::any_of(entry.previous.begin(), entry.previous.end(),
                                  [&](const served_version& v) { return v.verify_until <= now; });
    if (grace_over || entry.retire_due) {
      auto keys = keys_for(settings_.prefix, name);
      redis_.run_script("secret_retire", {keys.record, keys.acks},
                        {std::to_string(settings_.config.ack_liveness.count()),
                         events_channel(settings_.prefix), name, "10"},
                        [name](redis_reply r) {
                          if (r.kind == reply_kind::array && r.elements.size() > 2) {
                            std::string lagging;
                            for (std::size_t i = 2; i < r.elements.size(); ++i)
                              lagging += (i > 2 ? "," : "") + r.elements[i].str;
                            log::info("secret",
                                      "previous version not retired yet: live nodes "
                                      "still serve an older version",
                                      {{"secret", name}, {"nodes", lagging}});
                          }
                        });
    }
  }
  for (const auto& item : settings_.config.items) {
    if (item.rotate_every.count() == 0 || rotating_.count(item.name)) continue;
    auto it = cache_.find(item.name);
    if (it == cache_.end() || !it->second.loaded) {
      load(item.name);
      continue;
    }
    if (it->second.exists &&
        estimated_redis_ms() - it->second.rotated_at_ms < item.rotate_every.count())
      continue;
    rotating_.insert(item.name);
    rotation_request request;
    request.name = item.name;
    request.due = item.rotate_every;
    request.grace = grace_of(item.name);
    request.item = item;
    request.version_floor = it->second.highest_version;
    auto name = item.name;
    rotate(std::move(request), [this, name](rotation_outcome o) {
      rotating_.erase(name);
      if (o.what == rotation_outcome::kind::done) {
        audit({}, "rotate", name, "ok (schedule) version " + std::to_string(o.version));
        log::info("secret", "rotated on schedule",
                  {{"secret", name}, {"version", std::to_string(o.version)}});
        load(name);
      } else if (o.what == rotation_outcome::kind::failed) {
        audit({}, "rotate", name, "error (schedule): " + o.why);
        log::warn("secret", "scheduled rotation failed", {{"secret", name}, {"why", o.why}});
      }
    });
  }
}

std::int64_t secret_service::estimated_redis_ms() const {
  return system_ms() + redis_offset_ms_;
}

milliseconds secret_service::grace_of(const std::string& name) const {
  const auto* item = settings_.config.item(name);
  return item && item->grace ? *item->grace : settings_.config.grace;
}

bool secret_service::degraded(const cached_secret& entry) const {
  return entry.stale || !redis_.status().reachable();
}

void secret_service::with_entry(const std::string& name,
                                std::function<void(cached_secret*, bool)> use) {
  auto it = cache_.find(name);
  if (it != cache_.end() && it->second.loaded) return use(&it->second, true);
  if (it == cache_.end() && cache_.size() >= max_cached) return use(nullptr, false);
  load(name, [this, name, use = std::move(use)](bool ok) {
    auto& entry = cache_[name];
    use(entry.loaded ? &entry : nullptr, ok);
  });
}

void secret_service::follow(const std::string& name, std::function<void()> done) {
  with_entry(name, [done = std::move(done)](cached_secret*, bool) { done(); });
}

// -- the commands --------------------------------------------------------------------------

void secret_service::get(const std::string& name, secret_caller who, secret_callback done) {
  with_entry(name, [this, name, who, done = std::move(done)](cached_secret* entry, bool) {
    if (!entry) {
      audit(who, "get", name, "unavailable");
      return done(answer(secret_answer::kind::unavailable,
                         "redis is unreachable and secret '" + name + "' is not cached here"));
    }
    if (!entry->error.empty()) {
      audit(who, "get", name, "error: cannot decrypt");
      return done(answer(secret_answer::kind::failed, entry->error));
    }
    if (!entry->exists || !entry->current) {
      audit(who, "get", name, "absent");
      return done(answer(secret_answer::kind::absent));
    }
    auto a = answer(secret_answer::kind::value);
    a.value.assign(entry->current->value.view());
    a.version = entry->current->version;
    a.state = "current";
    a.degraded = degraded(*entry);
    a.epoch = entry->epoch;
    ++entry->unflushed_uses[a.version];
    ++counters_.gets;
    if (a.degraded) ++counters_.degraded;
    audit_.record({who.uid, who.pid, "get", name, a.version, "ok"});
    done(std::move(a));
  });
}

void secret_service::verify(const std::string& name, std::string candidate, secret_caller who,
                            secret_callback done) {
  auto digest = digest_of(candidate);
  OPENSSL_cleanse(candidate.data(), candidate.size());
  // Compares with every served version, without stopping at a match, in constant time per
  // comparison (digests of equal length, so the candidate's length does not show either).
  auto check = [this, digest](cached_secret& entry, secret_answer& a) {
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
    a.degraded = degraded(entry);
    a.epoch = entry.epoch;
    if (!match) return false;
    a.what = secret_answer::kind::match;
    a.version = match->version;
    a.state = is_current ? "current" : "previous";
    ++entry.unflushed_uses[a.version];
    return true;
  };
  auto finish = [this, name, who, done](secret_answer a) {
    bool matched = a.what == secret_answer::kind::match;
    ++(matched ? (a.state == "current" ? counters_.verified_current : counters_.verified_previous)
               : counters_.not_matched);
    if (a.degraded) ++counters_.degraded;
    audit_.record({who.uid, who.pid, "verify", name, a.version,
                   a.what == secret_answer::kind::match ? a.state : "no-match"});
    done(std::move(a));
  };
  with_entry(name, [this, name, who, check, finish, done](cached_secret* entry, bool) {
    if (!entry) {
      audit(who, "verify", name, "unavailable");
      return done(answer(secret_answer::kind::unavailable,
                         "redis is unreachable and secret '" + name + "' is not cached here"));
    }
    if (!entry->exists && entry->error.empty()) {
      audit(who, "verify", name, "absent");
      return done(answer(secret_answer::kind::absent));
    }
    auto a = answer(secret_answer::kind::no_match);
    if (check(*entry, a)) return finish(std::move(a));
    // The caller may hold a version promoted a moment ago whose announcement is still on its
    // way here: read Redis once more before saying no. Without Redis there is no telling, and
    // "no match" would be a wrong answer to a caller holding a newer key than this daemon saw
    // (the chaos harness caught a lossy link refusing the current version): UNAVAILABLE.
    auto cannot_tell = [this, name, who, done] {
      ++counters_.degraded;
      audit(who, "verify", name, "unavailable");
      done(answer(secret_answer::kind::unavailable,
                  "no version served here matches, and redis is unreachable to tell whether a "
                  "newer one does"));
    };
    if (!redis_.status().reachable()) return cannot_tell();
    load(name, [this, name, check, finish, cannot_tell](bool loaded) {
      auto& reloaded = cache_[name];
      auto again = answer(secret_answer::kind::no_match);
      if (check(reloaded, again) || loaded) return finish(std::move(again));
      cannot_tell();
    });
  });
}

void secret_service::info(const std::string& name, secret_caller who, secret_callback done) {
  auto keys = keys_for(settings_.prefix, name);
  auto result = std::make_shared<secret_answer>(answer(secret_answer::kind::info));
  audit(who, "info", name, "ok");
  redis_.run_script("secret_read", {keys.record}, {}, [=](redis_reply r) {
    if (r.is_error() || !parse_record(r, result->record))
      return done(answer(secret_answer::kind::unavailable, r.str));
    if (!result->record.exists() && result->record.pending == 0)
      return done(answer(secret_answer::kind::absent));
    redis_.call({"HGETALL", keys.acks}, [=](redis_reply acks) {
      if (acks.is_error()) return done(answer(secret_answer::kind::unavailable, acks.str));
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
        if (usage.is_error()) return done(answer(secret_answer::kind::unavailable, usage.str));
        for (std::size_t i = 0; i + 1 < usage.elements.size(); i += 2)
          result->uses[std::strtoll(usage.elements[i].str.c_str(), nullptr, 10)] +=
              std::strtoll(usage.elements[i + 1].str.c_str(), nullptr, 10);
        auto it = cache_.find(name); // this node's uses not flushed yet
        if (it != cache_.end())
          for (const auto& [version, uses] : it->second.unflushed_uses)
            result->uses[version] += uses;
        done(std::move(*result));
      });
    });
  });
}

void secret_service::change(const std::string& name, std::optional<secure_bytes> value, bool hooks,
                            const std::string& command, secret_caller who, secret_callback done) {
  rotation_request request;
  request.name = name;
  request.value = std::move(value);
  request.hooks = hooks;
  request.grace = grace_of(name);
  if (auto* item = settings_.config.item(name)) request.item = *item;
  if (auto it = cache_.find(name); it != cache_.end())
    request.version_floor = it->second.highest_version;
  rotate(std::move(request),
                [this, name, command, who, done = std::move(done)](rotation_outcome o) {
                  using kind = rotation_outcome::kind;
                  ++(o.what == kind::done   ? counters_.rotations_done
                     : o.what == kind::busy ? counters_.rotations_busy
                                            : counters_.rotations_failed);
                  if (o.what != kind::done) {
                    audit(who, command, name, o.what == kind::busy ? "busy" : "error: " + o.why);
                    auto what = o.what == kind::busy          ? secret_answer::kind::busy
                                : o.what == kind::unavailable ? secret_answer::kind::unavailable
                                                              : secret_answer::kind::failed;
                    return done(answer(what, o.why));
                  }
                  audit_.record({who.uid, who.pid, command, name, o.version,
                                 o.finished_earlier ? "ok (finished a half-done rotation)" : "ok"});
                  // Serve the new version here before answering, so that a GET after the reply sees
                  // it.
                  load(name, [done, o](bool) {
                    auto a = answer(secret_answer::kind::changed);
                    a.version = o.version;
                    a.previous = o.previous;
                    a.epoch = o.epoch;
                    a.state = o.finished_earlier ? "finished-pending" : "current";
                    done(std::move(a));
                  });
                });
}

void secret_service::audit(secret_caller who, const std::string& command, const std::string& name,
                           const std::string& result) {
  if (result == "refused") ++counters_.refusals;
  audit_.record({who.uid, who.pid, command, name, 0, result});
}

// -- rewrap --------------------------------------------------------------------------------

void secret_service::scan_names(std::string cursor, std::shared_ptr<std::vector<std::string>> names,
                                std::function<void(bool)> done) {
  redis_.call({"SCAN", cursor, "MATCH", settings_.prefix + ":secret:{*", "COUNT", "1000"},
              [this, names, done](redis_reply r) {
                if (r.kind != reply_kind::array || r.elements.size() != 2) return done(false);
                for (const auto& key : r.elements[1].elements) {
                  auto name = name_of_record(settings_.prefix, key.str);
                  if (!name.empty()) names->push_back(name);
                }
                if (r.elements[0].str == "0") return done(true);
                scan_names(r.elements[0].str, names, done);
              });
}

void secret_service::rewrap(const std::optional<std::string>& name, secret_caller who,
                            secret_callback done) {
  auto names = std::make_shared<std::vector<std::string>>();
  auto total = std::make_shared<secret_answer>(answer(secret_answer::kind::rewrapped));
  if (name) {
    names->push_back(*name);
    return rewrap_names(names, 0, total, who, std::move(done));
  }
  scan_names("0", names, [this, names, total, who, done](bool ok) {
    if (!ok) return done(answer(secret_answer::kind::unavailable, "could not list the secrets"));
    std::sort(names->begin(), names->end());
    names->erase(std::unique(names->begin(), names->end()), names->end());
    rewrap_names(names, 0, total, who, done);
  });
}

void secret_service::rewrap_names(std::shared_ptr<std::vector<std::string>> names, std::size_t next,
                                  std::shared_ptr<secret_answer> total, secret_caller who,
                                  secret_callback done) {
  if (next >= names->size()) {
    audit(who, "rewrap", names->size() == 1 ? names->front() : "*",
          "ok: " + std::to_string(total->rewrapped) + " rewrapped, " +
              std::to_string(total->skipped) + " failed");
    return done(std::move(*total));
  }
  const auto name = (*names)[next];
  auto keys = keys_for(settings_.prefix, name);
  redis_.run_script("secret_read", {keys.record}, {}, [=](redis_reply r) {
    secret_record record;
    if (r.is_error() || !parse_record(r, record))
      return done(answer(secret_answer::kind::unavailable, r.str));
    const auto* active = keys_.active();
    auto left = std::make_shared<std::size_t>(1); // one for this loop
    auto one_done = [=] {
      if (--*left == 0) rewrap_names(names, next + 1, total, who, done);
    };
    for (auto& [version, v] : record.versions) {
      if (v.sealed.wrapped_key.empty()) continue; // retired: nothing to wrap
      if (v.sealed.kek_id == active->id) {
        ++total->already;
        continue;
      }
      auto sealed = v.sealed;
      std::string error;
      if (!secret::rewrap(keys_, name, std::to_string(version), sealed, error)) {
        ++total->skipped;
        log::error("secret", "cannot rewrap a version",
                   {{"secret", name}, {"version", std::to_string(version)}, {"why", error}});
        continue;
      }
      ++*left;
      redis_.run_script(
          "secret_rewrap", {keys.record},
          {std::to_string(version), v.sealed.wrapped_key, sealed.kek_id, sealed.wrapped_key},
          [=](redis_reply w) {
            if (w.kind == reply_kind::integer && w.integer == 1)
              ++total->rewrapped;
            else
              ++total->skipped;
            one_done();
          });
    }
    one_done();
  });
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
  counter("baton_secret_reloads_total", "Secrets read from Redis into this daemon's memory.",
          counters_.reloads);
  counter("baton_secret_degraded_total",
          "GET and VERIFY answered from memory while Redis was unreachable.", counters_.degraded);
  counter("baton_secret_decrypt_failures_total",
          "Versions that could not be decrypted (tampered, or wrapped by an unknown KEK).",
          counters_.decrypt_failures);
  counter("baton_secret_refusals_total", "SECRET calls refused by the access rules.",
          counters_.refusals);
  e.declare("baton_secret_cached", "gauge", "Secret names held in this daemon's memory.");
  e.sample("baton_secret_cached", static_cast<std::uint64_t>(cache_.size()));
}

} // namespace baton::secret
