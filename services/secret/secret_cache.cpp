// Keeping the cache of secrets fresh: loads, announcements, acknowledgements, the periodic refresh that counts usage, retires previous versions and starts scheduled rotations; part of secret_service (see secret_service.hpp).
#include <algorithm>
#include <memory>

#include "common/log.hpp"
#include "model/secret/secret_keys.hpp"
#include "services/secret/secret_service.hpp"
#include "services/secret/secret_service_internal.hpp"

namespace baton::secret {

using redis_link::redis_reply;
using redis_link::reply_kind;

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


} // namespace baton::secret
