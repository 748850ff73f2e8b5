// The secret cache: keeps the secrets this daemon serves fresh. It reads a secret from Redis
// when asked (first use, WATCH, a mismatch to double-check), when an announcement says it
// changed, when the subscription came back (announcements may have been lost), and on its
// own schedule: every `refresh` it acknowledges what it serves, finds an announcement it
// missed or a record Redis lost or made again (an acknowledgement answers with the record's
// epoch and incarnation: any difference reloads), reloads what was stale or absent, flushes
// usage counts, retires previous versions whose grace is over and says which
// scheduled rotations are due. It lives across time and many round trips, so it is an actor.
//
// It holds at most `max_cached` names: a new one evicts the least recently used (by loads
// asked for, and by the uses and watches the reactor reports each refresh, so that GETs
// answered from memory need no hop to count), which is read from Redis again when next asked.
//
// GET and VERIFY never wait for it: every load yields a new immutable `served_secret`, handed
// to the reactor (`cache_news::published`) which answers from its own table of them, with no
// lock and no hop. Decryption happens here, off the reactor.
#pragma once

#include <caf/actor_system.hpp>
#include <caf/replies_to.hpp>
#include <caf/typed_actor.hpp>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "actors/redis_link/redis_link_actor.hpp"
#include "model/secret/envelope.hpp"
#include "model/secret/secret_settings.hpp"
#include "model/secret/served_secret.hpp"
#include "protocol/atoms.hpp"

namespace baton::secret {

/// Uses of one served version counted on the reactor, flushed to Redis by the cache; or, with
/// `watched`, a name a local client watches (count 0): never evicted, since a watcher is told
/// of a rotation only while its name is cached here.
struct secret_use {
  std::string name;
  std::int64_t version = 0;
  std::int64_t count = 0;
  bool watched = false;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, secret_use& x) {
  return f(x.name, x.version, x.count, x.watched);
}

/// What the cache tells the secret service, in order (through `secret_cache_deps::tell`).
struct cache_news {
  enum class kind {
    published,    ///< `name` is now served as `served` (replace the reactor's copy)
    loaded,       ///< the load asked for with `id` is over: `ok` if Redis answered
    changed,      ///< `name` has a new current `version` (for watchers; not on a first load)
    rotation_due, ///< `name`'s schedule says rotate; `version` is the highest seen here
    collect_uses, ///< send the uses counted since the last time (uses, [secret_use])
    evicted,      ///< `name` is no longer held: forget the reactor's copy
  };
  kind what = kind::published;
  std::string name;
  std::shared_ptr<const served_secret> served;
  std::uint64_t id = 0;
  bool ok = false;
  std::int64_t version = 0;
  std::int64_t epoch = 0;
};

/// Counted by the cache, read by the metrics page on the reactor.
struct secret_cache_counters {
  std::atomic<std::uint64_t> reloads{0};
  std::atomic<std::uint64_t> decrypt_failures{0};
  std::atomic<std::uint64_t> cached{0};
  std::atomic<std::uint64_t> evictions{0}; ///< names dropped for a new one past max_cached
};

struct secret_cache_deps {
  redis_link::redis_link_actor link;
  std::shared_ptr<const keyring> keys; ///< read-only once loaded
  secrets_config settings;
  std::string prefix;
  std::string node_id;
  /// Names served from memory; a new one past it evicts the least recently used (refused only
  /// when every name held is being loaded).
  std::size_t max_cached = 10000;
  std::shared_ptr<secret_cache_counters> counters = std::make_shared<secret_cache_counters>();
  /// Runs on the cache's thread with what one message brought, in order; the daemon posts it
  /// onto the reactor in one hop.
  std::function<void(std::vector<cache_news>)> tell;
};

/// The cache's protocol:
///   (load, name, id)          read `name` from Redis; news `loaded` with `id` once the cache
///                             holds what Redis had after this message arrived (id 0: none)
///   (announce, payload)       a message of the secrets' channel: reload what it names
///   (reload_all)              the subscription came back: reload everything loaded
///   (uses, [secret_use])      the counts asked for with `collect_uses`: flush them to Redis
///                             (and count each name as used now; a count of 0 is a watched
///                             name, kept recent but not flushed)
///   (timer_tick, generation)  internal: the refresh is due
using secret_cache_actor = caf::typed_actor<caf::reacts_to<atoms::load, std::string, std::uint64_t>,
                                            caf::reacts_to<atoms::announce, std::string>,
                                            caf::reacts_to<atoms::reload_all>,
                                            caf::reacts_to<atoms::uses, std::vector<secret_use>>,
                                            caf::reacts_to<atoms::timer_tick, std::uint64_t>>;

secret_cache_actor spawn_secret_cache(caf::actor_system& system, secret_cache_deps deps);

} // namespace baton::secret
