// STATE as this daemon's clients see it: entries of configured namespaces, each with a version
// for compare-and-set, a TTL, and (in a sealed namespace) a value encrypted at rest with the
// secrets' envelope. Redis holds every entry (lua/state_*.lua); a multi-key request is one
// script call per slot (services/state/state_keys.hpp), and listing is SCAN in pages that
// never block Redis. Nothing is kept here between requests: any daemon answers any request.
//
// Runs on the I/O thread, like the lease, rate and dedup services.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "model/secret/envelope.hpp"
#include "model/state/state_settings.hpp"
#include "protocol/result.hpp"
#include "redis/redis_pool.hpp"

namespace baton::state {

/// An entry as GET reads it.
struct entry {
  std::string value;
  std::int64_t version = 0;
  std::int64_t ttl_ms = -1; ///< -1: no expiry
};
using maybe_entry = std::optional<entry>;

/// SET's and MSET's answer: the version each key now has, in request order (0 for a key a
/// resent write found written over since its first attempt).
struct written {
  std::vector<std::int64_t> versions;
};

/// How many entries a DEL, MDEL or CLEAR deleted, or COUNT found, or an import wrote.
struct tally {
  std::int64_t count = 0;
};

/// One page of SCAN: the next cursor ("0": done) and the keys found on this page.
struct scan_page {
  std::string cursor;
  std::vector<std::string> keys;
};

enum class write_condition { none, absent, version };

/// One entry of an import, as an export recorded it (ttl_ms 0: no expiry).
struct restore_item {
  std::string key;
  std::string value;
  std::int64_t version = 0;
  std::int64_t ttl_ms = 0;
};

template <class T>
using state_callback = std::function<void(protocol::result<T>)>;

/// The failures: err (a value that cannot be sealed or opened, a Redis refusal), conflict
/// (IFABSENT or IFVERSION found another version; the failure's context holds it as
/// std::int64_t), refused (a SCAN cursor of another slot map), unavailable (never sent),
/// unknown (a change sent whose answer was lost and could not be learnt).
class state_service {
public:
  /// `keys`: the KEKs for sealed namespaces (empty without secrets.keks).
  state_service(redis_link::redis_pool& redis, const secret::keyring& keys, std::string node_id,
                std::string run_id);

  /// GET and MGET; GETDEL (`and_delete`) deletes what it read in the same step.
  void read(const state_namespace& ns, std::vector<std::string> keys, bool and_delete,
            state_callback<std::vector<maybe_entry>> done);
  /// SET (one pair, with a condition) and MSET (pairs, no condition). `ttl` 0: no expiry.
  void write(const state_namespace& ns, std::vector<std::pair<std::string, std::string>> items,
             write_condition condition, std::int64_t expected_version, milliseconds ttl,
             state_callback<written> done);
  /// DEL and MDEL; `expected_version` (one key only) deletes only that version.
  void remove(const state_namespace& ns, std::vector<std::string> keys,
              std::optional<std::int64_t> expected_version, state_callback<tally> done);
  void exists(const state_namespace& ns, const std::string& key, state_callback<bool> done);
  /// Milliseconds left, -1 for no expiry, -2 for no such key (Redis' PTTL).
  void ttl(const state_namespace& ns, const std::string& key,
           state_callback<std::int64_t> done);
  void scan(const state_namespace& ns, const std::string& prefix, const std::string& cursor,
            std::size_t count, state_callback<scan_page> done);
  /// Counts the namespace's entries with a full SCAN (in batches; Redis is never blocked).
  void count(const state_namespace& ns, state_callback<tally> done);
  /// Deletes every entry of the namespace, in SCAN batches, one call per slot of each batch.
  void clear(const state_namespace& ns, state_callback<tally> done);
  /// Writes entries exactly as recorded (`batonctl state import`); safe to repeat.
  void restore(const state_namespace& ns, std::vector<restore_item> items,
               state_callback<tally> done);

private:
  /// Fills a write's four value fields (v, kek, wkey, ct) for `key`; false with `error`.
  bool seal_value(const state_namespace& ns, const std::string& key, const std::string& value,
                  std::vector<std::string>& args, std::string& error) const;
  protocol::result<maybe_entry> decode_entry(const state_namespace& ns, const std::string& key,
                                             const redis_link::redis_reply& r) const;

  redis_link::redis_pool& redis_;
  const secret::keyring& keys_;
  std::string writer_;         ///< "<node>:<run>:": the start of every write's id
  std::uint64_t sequence_ = 0; ///< the rest of it
};

} // namespace baton::state
