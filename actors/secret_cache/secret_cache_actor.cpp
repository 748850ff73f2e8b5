// The secret cache; see secret_cache_actor.hpp.
#include "actors/secret_cache/secret_cache_actor.hpp"

#include <caf/all.hpp>

#include <algorithm>
#include <list>
#include <map>
#include <unordered_map>
#include <unordered_set>

#include "actors/support/wake_timer.hpp"
#include "common/log.hpp"
#include "model/secret/secret_digest.hpp"
#include "model/secret/secret_identity.hpp"
#include "model/secret/secret_keys.hpp"
#include "model/secret/secret_record.hpp"

namespace baton::secret {
namespace {

using redis_link::redis_reply;
using redis_link::reply_kind;
using redis_link::script_call;
using std::chrono::milliseconds;

/// The most a read or an acknowledgement may take before it counts as Redis unavailable; the
/// link answers sooner with its own budget, this is the backstop if the link is gone.
constexpr auto call_timeout = std::chrono::seconds(5);

std::int64_t system_ms() {
  return std::chrono::duration_cast<milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

/// One name as the cache keeps it: what it last published, and the load in flight.
struct cache_entry {
  std::shared_ptr<const served_secret> served; ///< null until a load has succeeded
  bool loading = false;
  bool again = false;                      ///< one more load after the one in flight
  std::vector<std::uint64_t> waiting;      ///< ids waiting for the load in flight
  std::vector<std::uint64_t> next_waiting; ///< ids waiting for the load after it
  bool retire_due = false; ///< Redis still holds a previous version whose grace is over
  std::int64_t highest_version = 0;
  std::list<std::string>::iterator recency; ///< its place in secret_cache_state::recency
};

struct secret_cache_state {
  secret_cache_deps deps;
  std::unordered_map<std::string, cache_entry> entries;
  std::list<std::string> recency;          ///< every name in entries, the most recently used first
  std::unordered_set<std::string> watched; ///< as of the last refresh: never evicted
  std::int64_t redis_offset_ms = 0;        ///< Redis' clock minus this host's, as last read
  actors::wake_timer timer;
  std::vector<cache_news> outbox; ///< told at the end of the message that produced it
  static inline const char* name = "secret_cache";
};

using cache_pointer = secret_cache_actor::stateful_pointer<secret_cache_state>;

void tell(cache_pointer self, cache_news news) {
  self->state.outbox.push_back(std::move(news));
}

void flush(cache_pointer self) {
  auto& st = self->state;
  if (st.outbox.empty()) return;
  auto news = std::move(st.outbox);
  st.outbox.clear();
  if (st.deps.tell) st.deps.tell(std::move(news));
}

void tell_loaded(cache_pointer self, std::uint64_t id, bool ok) {
  if (id == 0) return;
  cache_news n;
  n.what = cache_news::kind::loaded;
  n.id = id;
  n.ok = ok;
  tell(self, std::move(n));
}

void publish(cache_pointer self, const std::string& name, cache_entry& e,
             std::shared_ptr<served_secret> served) {
  e.served = std::move(served);
  cache_news n;
  n.what = cache_news::kind::published;
  n.name = name;
  n.served = e.served;
  tell(self, std::move(n));
}

void start_load(cache_pointer self, const std::string& name);

void touch(secret_cache_state& st, cache_entry& e) {
  st.recency.splice(st.recency.begin(), st.recency, e.recency);
}

/// Drops the least recently used name that no load is in flight for and nobody watches; false
/// if there is none.
bool evict_one(cache_pointer self) {
  auto& st = self->state;
  for (auto it = st.recency.rbegin(); it != st.recency.rend(); ++it) {
    auto found = st.entries.find(*it);
    if (found == st.entries.end() || found->second.loading || st.watched.count(*it)) continue;
    cache_news n;
    n.what = cache_news::kind::evicted;
    n.name = *it;
    st.entries.erase(found);
    st.recency.erase(std::next(it).base());
    ++st.deps.counters->evictions;
    log::debug("secret", "evicted from the cache (secrets.cache_max_entries)",
               {{"secret", n.name}});
    tell(self, std::move(n));
    return true;
  }
  return false;
}

void load(cache_pointer self, const std::string& name, std::uint64_t id) {
  auto& st = self->state;
  auto it = st.entries.find(name);
  if (it == st.entries.end()) {
    if (st.entries.size() >= st.deps.max_cached && !evict_one(self)) {
      log::warn("secret", "not cached: every name held is being loaded",
                {{"secret", name}, {"max", std::to_string(st.deps.max_cached)}});
      return tell_loaded(self, id, false);
    }
    it = st.entries.emplace(name, cache_entry{}).first;
    st.recency.push_front(name);
    it->second.recency = st.recency.begin();
    st.deps.counters->cached = st.entries.size();
  } else {
    touch(st, it->second);
  }
  auto& e = it->second;
  if (e.loading) {
    // The load in flight may have read Redis before what the caller waits for: one more.
    e.again = true;
    if (id != 0) e.next_waiting.push_back(id);
    return;
  }
  if (id != 0) e.waiting.push_back(id);
  start_load(self, name);
}

// -- building what is served from a record -------------------------------------------------

/// Opens a version, or reuses the plaintext an earlier snapshot opened from the same bytes, so
/// that a reload after each rotation decrypts only what is new.
bool open_version(const keyring& keys, const std::string& name, std::int64_t version,
                  const version_record& v, const served_secret* before, served_version& out,
                  std::string& error) {
  auto reuse = [&](const served_version& known) {
    if (known.version != version || known.ciphertext != v.sealed.ciphertext) return false;
    out = known;
    return true;
  };
  if (before) {
    if (before->current && reuse(*before->current)) return true;
    for (const auto& known : before->previous)
      if (reuse(known)) return true;
  }
  auto value = std::make_shared<secure_bytes>();
  if (!open(keys, name, std::to_string(version), v.sealed, *value, error)) return false;
  out.version = version;
  out.digest = digest_of(value->view());
  out.ciphertext = v.sealed.ciphertext;
  out.value = std::move(value);
  return true;
}

void acknowledge(cache_pointer self, const std::string& name, std::int64_t version);

void apply(cache_pointer self, const std::string& name, cache_entry& e,
           const secret_record& record) {
  auto& st = self->state;
  ++st.deps.counters->reloads;
  st.redis_offset_ms = record.redis_now_ms - system_ms();
  const served_secret* before = e.served.get();
  auto was = before && before->current ? before->current->version : 0;
  // A secret made again after Redis lost it may reuse the version number served here with
  // another value: that is a change all the same, for watchers and for the acknowledgement.
  std::string was_sealed = before && before->current ? before->current->ciphertext : "";
  auto now = self->clock().now();
  auto next = std::make_shared<served_secret>();
  e.retire_due = false;
  for (const auto& [version, v] : record.versions) {
    std::string error;
    e.highest_version = std::max(e.highest_version, version);
    if (v.state == "current") {
      served_version served;
      if (open_version(*st.deps.keys, name, version, v, before, served, error)) {
        served.verify_until = std::chrono::steady_clock::time_point::max();
        next->current = std::move(served);
      } else {
        next->error = "version " + std::to_string(version) + " of secret '" + name +
                      "' cannot be decrypted: " + error;
        ++st.deps.counters->decrypt_failures;
        log::error("secret", "cannot decrypt the current version; GET answers an error",
                   {{"secret", name}, {"version", std::to_string(version)}, {"why", error}});
      }
    } else if (v.state == "previous" && v.grace_until_ms <= record.redis_now_ms) {
      e.retire_due = true;
    } else if (v.state == "previous") {
      served_version served;
      if (open_version(*st.deps.keys, name, version, v, before, served, error)) {
        served.verify_until = now + milliseconds(v.grace_until_ms - record.redis_now_ms);
        next->previous.push_back(std::move(served));
      } else {
        ++st.deps.counters->decrypt_failures;
        log::error("secret", "cannot decrypt a previous version; it does not verify",
                   {{"secret", name}, {"version", std::to_string(version)}, {"why", error}});
      }
    }
  }
  bool first_load = before == nullptr;
  next->exists = record.exists();
  next->epoch = record.epoch;
  next->incarnation = record.incarnation;
  next->rotated_at_ms = record.rotated_at_ms;
  next->highest_version = e.highest_version;
  auto now_serving = next->current ? next->current->version : 0;
  bool new_value = now_serving != was || (next->current && next->current->ciphertext != was_sealed);
  auto epoch = next->epoch;
  publish(self, name, e, std::move(next));
  if (now_serving != 0 && new_value) {
    acknowledge(self, name, now_serving);
    // A first load is no change: watchers hear of versions that come after they watch.
    if (!first_load) {
      cache_news n;
      n.what = cache_news::kind::changed;
      n.name = name;
      n.version = now_serving;
      n.epoch = epoch;
      tell(self, std::move(n));
    }
  }
}

void on_read(cache_pointer self, const std::string& name, const redis_reply& reply) {
  auto found = self->state.entries.find(name);
  if (found == self->state.entries.end()) return; // cannot happen: a loading name stays
  auto& e = found->second;
  secret_record record;
  bool ok = !reply.is_error() && parse_record(reply, record);
  if (ok) {
    apply(self, name, e, record);
  } else if (e.served && !e.served->stale) {
    // Keep serving what the last load found, marked stale: GET says `degraded`, and the next
    // refresh reads it again.
    auto stale = std::make_shared<served_secret>(*e.served);
    stale->stale = true;
    publish(self, name, e, std::move(stale));
  }
  e.loading = false;
  auto waiters = std::move(e.waiting);
  e.waiting.clear();
  if (e.again) {
    e.again = false;
    e.waiting = std::move(e.next_waiting);
    e.next_waiting.clear();
    start_load(self, name);
  }
  for (auto id : waiters)
    tell_loaded(self, id, ok);
}

void start_load(cache_pointer self, const std::string& name) {
  auto& st = self->state;
  st.entries.at(name).loading = true;
  script_call call{"secret_read", {keys_for(st.deps.prefix, name).record}, {}, 0};
  self->request(st.deps.link, call_timeout, atoms::redis_script::value, std::move(call))
      .then(
          [self, name](redis_reply& reply) {
            on_read(self, name, reply);
            flush(self);
          },
          [self, name](caf::error&) {
            on_read(self, name, redis_reply::unavailable("no answer from the redis link"));
            flush(self);
          });
}

void acknowledge(cache_pointer self, const std::string& name, std::int64_t version) {
  auto& st = self->state;
  auto keys = keys_for(st.deps.prefix, name);
  script_call call{
      "secret_ack", {keys.record, keys.acks}, {st.deps.node_id, std::to_string(version)}, 0};
  self->request(st.deps.link, call_timeout, atoms::redis_script::value, std::move(call))
      .then(
          [self, name](redis_reply& r) {
            auto now = parse_ack_reply(r);
            if (!now) return;
            auto it = self->state.entries.find(name);
            // A missed announcement, a secret Redis lost (epoch 0) or one made again since
            // (another incarnation, its epoch counting from 1 again): any difference reloads.
            if (it != self->state.entries.end() && it->second.served &&
                !same_history(*it->second.served, *now)) {
              load(self, name, 0);
              flush(self);
            }
          },
          [](caf::error&) {});
}

// -- the refresh ---------------------------------------------------------------------------

void retire(cache_pointer self, const std::string& name) {
  auto& st = self->state;
  auto keys = keys_for(st.deps.prefix, name);
  script_call call{"secret_retire",
                   {keys.record, keys.acks},
                   {std::to_string(st.deps.settings.ack_liveness.count()),
                    events_channel(st.deps.prefix), name, "10"},
                   0};
  self->request(st.deps.link, call_timeout, atoms::redis_script::value, std::move(call))
      .then(
          [name](redis_reply& r) {
            if (r.kind == reply_kind::array && r.elements.size() > 2) {
              std::string lagging;
              for (std::size_t i = 2; i < r.elements.size(); ++i)
                lagging += (i > 2 ? "," : "") + r.elements[i].str;
              log::info("secret",
                        "previous version not retired yet: live nodes still serve an older "
                        "version",
                        {{"secret", name}, {"nodes", lagging}});
            }
          },
          [](caf::error&) {});
}

void check_schedules(cache_pointer self) {
  auto& st = self->state;
  auto redis_ms = system_ms() + st.redis_offset_ms;
  for (const auto& item : st.deps.settings.items) {
    if (item.rotate_every.count() == 0) continue;
    auto it = st.entries.find(item.name);
    if (it == st.entries.end() || !it->second.served) {
      load(self, item.name, 0);
      continue;
    }
    const auto& served = *it->second.served;
    if (served.exists && redis_ms - served.rotated_at_ms < item.rotate_every.count()) continue;
    cache_news n;
    n.what = cache_news::kind::rotation_due;
    n.name = item.name;
    n.version = it->second.highest_version;
    tell(self, std::move(n));
  }
}

void refresh(cache_pointer self) {
  auto& st = self->state;
  auto now = self->clock().now();
  std::vector<std::string> reload;
  for (auto& [name, e] : st.entries) {
    if (!e.served) continue;
    const auto& served = *e.served;
    if (!served.exists || served.stale) {
      // An absent name may have been PUT since; a stale entry missed what Redis said while
      // it was unreachable. Both are cheap to look at again.
      reload.push_back(name);
      continue;
    }
    if (served.current) acknowledge(self, name, served.current->version);
    // Grace over for a previous version (or one no longer served): ask Redis to retire it.
    bool grace_over = std::any_of(served.previous.begin(), served.previous.end(),
                                  [&](const served_version& v) { return v.verify_until <= now; });
    if (grace_over || e.retire_due) retire(self, name);
  }
  for (const auto& name : reload)
    load(self, name, 0);
  check_schedules(self);
  cache_news n;
  n.what = cache_news::kind::collect_uses;
  tell(self, std::move(n));
}

void flush_uses(cache_pointer self, const std::vector<secret_use>& uses) {
  auto& st = self->state;
  std::map<std::string, std::vector<std::string>> by_name;
  st.watched.clear();
  for (const auto& u : uses) {
    if (u.watched) st.watched.insert(u.name);
    if (auto it = st.entries.find(u.name); it != st.entries.end()) touch(st, it->second);
    if (u.count == 0) continue; // watched, not used: recent, nothing to count
    auto& args = by_name[u.name];
    args.push_back(std::to_string(u.version));
    args.push_back(std::to_string(u.count));
  }
  for (auto& [name, args] : by_name) {
    script_call call{"secret_count", {keys_for(st.deps.prefix, name).usage}, std::move(args), 0};
    self->request(st.deps.link, call_timeout, atoms::redis_script::value, std::move(call))
        .then([](redis_reply&) {}, [](caf::error&) {});
  }
}

void on_announcement(cache_pointer self, const std::string& payload) {
  auto news = parse_announcement(payload);
  if (!news) return;
  auto it = self->state.entries.find(news->name);
  if (it == self->state.entries.end() || !it->second.served) return; // not served here
  // Not only a larger epoch: after a data loss the secret's new history counts from 1 again.
  if (!same_history(*it->second.served, news->identity)) load(self, news->name, 0);
}

secret_cache_actor::behavior_type cache_behavior(cache_pointer self, secret_cache_deps deps) {
  self->state.deps = std::move(deps);
  self->state.timer.wake_at(self, self->clock().now() + self->state.deps.settings.refresh);
  return {
      [self](atoms::load, const std::string& name, std::uint64_t id) {
        load(self, name, id);
        flush(self);
      },
      [self](atoms::announce, const std::string& payload) {
        on_announcement(self, payload);
        flush(self);
      },
      [self](atoms::reload_all) {
        for (auto& [name, e] : self->state.entries)
          if (e.served) load(self, name, 0);
        flush(self);
      },
      [self](atoms::uses, const std::vector<secret_use>& uses) { flush_uses(self, uses); },
      [self](atoms::timer_tick, std::uint64_t generation) {
        if (!self->state.timer.fired(generation)) return;
        refresh(self);
        self->state.timer.wake_at(self, self->clock().now() + self->state.deps.settings.refresh);
        flush(self);
      },
  };
}

} // namespace

secret_cache_actor spawn_secret_cache(caf::actor_system& system, secret_cache_deps deps) {
  return system.spawn(cache_behavior, std::move(deps));
}

} // namespace baton::secret
