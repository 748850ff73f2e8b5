// The reactor's side of the secret cache: the table of what is served (replaced whole by each
// snapshot the cache actor publishes), loads asked of the actor and who waits for them, the
// use counts it collects, and the scheduled rotations it says are due; part of secret_service
// (see secret_service.hpp; the actor is actors/secret_cache).
#include <caf/send.hpp>

#include <algorithm>
#include <memory>

#include "common/log.hpp"
#include "services/secret/secret_service.hpp"
#include "services/secret/secret_service_internal.hpp"

namespace baton::secret {

void secret_service::load(const std::string& name, std::function<void(bool)> done) {
  if (!cache_) {
    if (done) done(false);
    return;
  }
  std::uint64_t id = 0;
  if (done) {
    id = ++next_load_;
    load_waiters_.emplace(id, std::move(done));
  }
  caf::anon_send(cache_, atoms::load::value, name, id);
}

void secret_service::with_entry(const std::string& name,
                                std::function<void(const served_secret*, bool)> use) {
  if (auto it = served_.find(name); it != served_.end()) return use(it->second.get(), true);
  load(name, [this, name, use = std::move(use)](bool ok) {
    // The snapshot (if any) was published before this answer, on the same path.
    auto it = served_.find(name);
    use(it == served_.end() ? nullptr : it->second.get(), ok);
  });
}

void secret_service::follow(const std::string& name, std::function<void()> done) {
  with_entry(name, [done = std::move(done)](const served_secret*, bool) { done(); });
}

void secret_service::count_use(const std::string& name, std::int64_t version) {
  ++unflushed_uses_[name][version];
}

void secret_service::on_cache_news(std::vector<cache_news> news) {
  for (auto& n : news) {
    switch (n.what) {
    case cache_news::kind::published:
      served_[n.name] = std::move(n.served);
      break;
    case cache_news::kind::loaded:
      if (auto it = load_waiters_.find(n.id); it != load_waiters_.end()) {
        auto done = std::move(it->second);
        load_waiters_.erase(it);
        done(n.ok);
      }
      break;
    case cache_news::kind::changed:
      if (changed_) changed_(n.name, n.version, n.epoch);
      break;
    case cache_news::kind::rotation_due:
      rotate_on_schedule(n.name, n.version);
      break;
    case cache_news::kind::collect_uses: {
      std::vector<secret_use> uses;
      for (const auto& [name, versions] : unflushed_uses_)
        for (const auto& [version, count] : versions)
          uses.push_back({name, version, count});
      unflushed_uses_.clear();
      if (watched_)
        for (auto& name : watched_())
          uses.push_back({std::move(name), 0, 0, true}); // recent and kept, nothing to count
      if (!uses.empty() && cache_) caf::anon_send(cache_, atoms::uses::value, std::move(uses));
      break;
    }
    case cache_news::kind::evicted:
      served_.erase(n.name); // read from Redis again when next asked for
      // Watched since the cache last heard the watched names: keep following it, or its
      // watchers would not hear of its rotation.
      if (watched_ && cache_) {
        auto names = watched_();
        if (std::find(names.begin(), names.end(), n.name) != names.end())
          caf::anon_send(cache_, atoms::load::value, n.name, std::uint64_t{0});
      }
      break;
    }
  }
}

void secret_service::rotate_on_schedule(const std::string& name, std::int64_t version_floor) {
  if (stopped_ || rotating_.count(name)) return;
  const auto* item = settings_.config.item(name);
  if (!item) return;
  rotating_.insert(name);
  rotation_request request;
  request.name = name;
  request.due = item->rotate_every;
  request.grace = grace_of(name);
  request.item = *item;
  request.version_floor = version_floor;
  rotate(std::move(request), [this, name](result<rotation_success> r) {
    rotating_.erase(name);
    if (r) {
      // Not due: nothing was done, nothing to tell.
      if (const auto* done = std::get_if<rotated>(&*r)) {
        audit({}, "rotate", name, "ok (schedule) version " + std::to_string(done->version));
        log::info("secret", "rotated on schedule",
                  {{"secret", name}, {"version", std::to_string(done->version)}});
        load(name);
      }
    } else if (r.error().code == error_code::err) {
      // Only a failed rotation is audited: busy means another daemon rotates it,
      // unavailable that Redis is away.
      audit({}, "rotate", name, "error (schedule): " + r.error().why);
      log::warn("secret", "scheduled rotation failed", {{"secret", name}, {"why", r.error().why}});
    }
  });
}

milliseconds secret_service::grace_of(const std::string& name) const {
  const auto* item = settings_.config.item(name);
  return item && item->grace ? *item->grace : settings_.config.grace;
}

bool secret_service::degraded(const served_secret& entry) const {
  return entry.stale || !redis_.reachable();
}

} // namespace baton::secret
