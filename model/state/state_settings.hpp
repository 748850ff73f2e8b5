// What STATE is configured with: the namespaces apps keep their state in (where in Redis,
// how long entries live, how large they may be, whether they are sealed at rest, who may read
// and write them) and the limits of a request. Parsed and checked by daemon/config_state.cpp.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstddef>
#include <optional>
#include <string>
#include <vector>

namespace baton::state {

using std::chrono::milliseconds;

/// Callers by uid and group, as an access rule names them.
struct state_callers {
  std::vector<uid_t> uids;
  std::vector<gid_t> gids;

  bool operator==(const state_callers& o) const { return uids == o.uids && gids == o.gids; }
};

/// One namespace of `state.namespaces`.
struct state_namespace {
  std::string name;
  /// Every entry is the Redis hash "<key_prefix>{<key>}"; default "<prefix>:state:<name>:".
  std::string key_prefix;
  milliseconds default_ttl{0}; ///< SET without TTL (and MSET): 0 keeps entries until deleted
  milliseconds max_ttl{365LL * 24 * 3600 * 1000};
  std::size_t max_value_bytes = 1 << 20;
  bool encrypt = false; ///< values sealed with the secrets' envelope (needs KEKs)
  /// Unset: every caller the access rules let use STATE on this namespace. Set: only these
  /// (and admins). Writers may also read.
  std::optional<state_callers> readers;
  std::optional<state_callers> writers;

  bool operator==(const state_namespace& o) const {
    return name == o.name && key_prefix == o.key_prefix && default_ttl == o.default_ttl &&
           max_ttl == o.max_ttl && max_value_bytes == o.max_value_bytes && encrypt == o.encrypt &&
           readers == o.readers && writers == o.writers;
  }
};

struct state_config {
  std::vector<state_namespace> namespaces;
  std::size_t max_key_length = 512;
  std::size_t max_batch_keys = 1000; ///< keys of one MGET, MSET or MDEL
  std::size_t max_scan_count = 10000; ///< SCAN's COUNT

  const state_namespace* find(const std::string& name) const {
    for (const auto& ns : namespaces)
      if (ns.name == name) return &ns;
    return nullptr;
  }
  bool operator==(const state_config& o) const {
    return namespaces == o.namespaces && max_key_length == o.max_key_length &&
           max_batch_keys == o.max_batch_keys && max_scan_count == o.max_scan_count;
  }
};

} // namespace baton::state
