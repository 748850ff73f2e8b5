// What CACHE is configured with: the namespaces apps cache entities in (how long entries live
// in Redis, how large they may be, and how much of them, for how long, each daemon keeps in
// its near cache in memory) and the limits of a request. Parsed and checked by
// daemon/config_cache.cpp.
#pragma once

#include <chrono>
#include <cstddef>
#include <string>
#include <vector>

namespace baton::cache {

using std::chrono::milliseconds;

/// One namespace of `cache.namespaces`.
struct cache_namespace {
  std::string name;
  milliseconds ttl{300000};      ///< SET without TTL
  milliseconds max_ttl{86400000}; ///< the longest TTL a SET may give
  std::size_t max_value_bytes = 1 << 20;
  /// The near cache: at most this many bytes of entries (keys, values and bookkeeping) in this
  /// daemon's memory; 0 turns it off (every GET reads Redis).
  std::size_t near_max_bytes = 16 << 20;
  /// The longest an entry is served from memory before it is read again: the bound on
  /// staleness should an invalidation ever be missed (it is not, while the subscription is up).
  milliseconds near_ttl{60000};

  bool operator==(const cache_namespace& o) const {
    return name == o.name && ttl == o.ttl && max_ttl == o.max_ttl &&
           max_value_bytes == o.max_value_bytes && near_max_bytes == o.near_max_bytes &&
           near_ttl == o.near_ttl;
  }
};

struct cache_config {
  std::vector<cache_namespace> namespaces;
  std::size_t max_key_length = 512;
  std::size_t max_batch_keys = 1000; ///< keys of one INVALIDATE
  /// A near hit only when no bytes wait unread on the invalidation channel (one ioctl a hit:
  /// bench/ measured 10-15% of a hit's throughput). Off, an invalidation that arrived while
  /// this daemon was busy may wait behind the reads it is serving (under load, 47 of 500 first
  /// reads after a write's reply were still old: bench/cache_propagation.py).
  bool strict = true;

  const cache_namespace* find(const std::string& name) const {
    for (const auto& ns : namespaces)
      if (ns.name == name) return &ns;
    return nullptr;
  }
  bool operator==(const cache_config& o) const {
    return namespaces == o.namespaces && max_key_length == o.max_key_length &&
           max_batch_keys == o.max_batch_keys && strict == o.strict;
  }
};

} // namespace baton::cache
