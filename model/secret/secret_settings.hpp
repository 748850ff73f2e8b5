// What the secrets service is configured with: where the key-encryption keys come from, the
// secret names with rotation schedules and hooks, who may read, verify or administer which
// names, and the limits. Parsed and checked by daemon/config_secrets.cpp.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstddef>
#include <optional>
#include <string>
#include <tuple>
#include <vector>

namespace baton::secret {

using std::chrono::milliseconds;

/// One KEK: 32 bytes read at start from a file or an environment variable, never from Redis.
struct kek_source {
  std::string id;
  std::string file;
  std::string env;
  std::string encoding = "hex"; ///< hex (64 digits), base64 (44 characters) or raw (32 bytes)

  bool operator==(const kek_source& o) const {
    return std::tie(id, file, env, encoding) == std::tie(o.id, o.file, o.env, o.encoding);
  }
};

/// Who may do what with which secret names. A name pattern is exact or ends in '*' (prefix).
struct secret_access_rule {
  std::vector<std::string> names;
  std::vector<uid_t> uids;
  std::vector<gid_t> gids;
  bool get = false;    ///< SECRET GET (and INFO, WATCH)
  bool verify = false; ///< SECRET VERIFY (and INFO, WATCH)
  bool admin = false;  ///< SECRET PUT, ROTATE, REWRAP (and INFO, WATCH)

  bool operator==(const secret_access_rule& o) const {
    return std::tie(names, uids, gids, get, verify, admin) ==
           std::tie(o.names, o.uids, o.gids, o.get, o.verify, o.admin);
  }
};

/// A secret the config names: how it rotates. Secrets created by PUT without an entry rotate
/// only on command, with generated values and the default grace window.
struct secret_item {
  std::string name;
  milliseconds rotate_every{0};      ///< 0: only on command
  std::optional<milliseconds> grace; ///< default: secrets.grace_ms
  std::size_t generate_bytes = 32;   ///< random bytes of a generated value
  std::string encoding = "hex";      ///< a generated value's text: hex or base64
  std::string generate_hook;         ///< command whose stdout is the new value
  std::string test_hook;             ///< command given the new value on stdin; exit 0 = good

  bool operator==(const secret_item& o) const {
    return std::tie(name, rotate_every, grace, generate_bytes, encoding, generate_hook,
                    test_hook) == std::tie(o.name, o.rotate_every, o.grace, o.generate_bytes,
                                           o.encoding, o.generate_hook, o.test_hook);
  }
};

struct secrets_config {
  std::vector<kek_source> keks;
  std::string active_kek; ///< default: the first KEK listed
  /// How long the previous version still verifies after a rotation.
  milliseconds grace{3600 * 1000};
  std::size_t max_value_bytes = 64 * 1024;
  std::size_t max_name_length = 128;
  milliseconds rotation_lease{30 * 1000}; ///< a rotating daemon's lease; hooks must finish in it
  milliseconds hook_timeout{10 * 1000};
  std::size_t audit_max_entries = 100000; ///< the audit stream is capped near this length
  milliseconds audit_flush{1000};         ///< audit records are batched this long
  /// A daemon whose acknowledgement is older than this is not waited for before retiring.
  milliseconds ack_liveness{15 * 1000};
  milliseconds refresh{5 * 1000}; ///< acknowledge, count usage, check schedules this often
  bool allow_core_dumps = false;  ///< with KEKs configured, batond is made non-dumpable
  /// Names the cache holds in memory; past it the least recently used is evicted (and read
  /// from Redis again when next asked for).
  std::size_t cache_max_entries = 10000;
  std::vector<secret_access_rule> access;
  std::vector<secret_item> items;

  bool operator==(const secrets_config& o) const {
    return std::tie(keks, active_kek, grace, max_value_bytes, max_name_length, rotation_lease,
                    hook_timeout, audit_max_entries, audit_flush, ack_liveness, refresh,
                    allow_core_dumps, cache_max_entries, access, items) ==
           std::tie(o.keks, o.active_kek, o.grace, o.max_value_bytes, o.max_name_length,
                    o.rotation_lease, o.hook_timeout, o.audit_max_entries, o.audit_flush,
                    o.ack_liveness, o.refresh, o.allow_core_dumps, o.cache_max_entries, o.access,
                    o.items);
  }
  bool operator!=(const secrets_config& o) const { return !(*this == o); }

  bool enabled() const { return !keks.empty(); }
  const secret_item* item(const std::string& name) const {
    for (const auto& i : items)
      if (i.name == name) return &i;
    return nullptr;
  }
};

} // namespace baton::secret
