// What a Redis Cluster client must know of the cluster: which slot a key hashes to, which
// primary serves each slot (from CLUSTER SLOTS), and where a MOVED or ASK redirect points.
// Pure functions and a plain table, so that the rules are tested without a server.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "redis/redis_reply.hpp"

namespace baton::redis_link {

constexpr std::size_t cluster_slots = 16384;

/// The slot of a key: CRC16 (XMODEM) of the key, or of its hash tag (the text between the
/// first '{' and the next '}', when not empty), modulo 16384. Keys that share a tag share a
/// slot: every multi-key script of lua/ relies on it.
std::uint16_t key_slot(std::string_view key);

/// "host:port", how the cluster names a node in redirects and how the map names it.
struct node_address {
  std::string host;
  unsigned short port = 0;
  std::string text() const { return host + ":" + std::to_string(port); }
  bool operator==(const node_address& o) const { return port == o.port && host == o.host; }
};

/// A MOVED (the slot lives elsewhere now: update the map) or ASK (this one key is being
/// imported there: ask that node once, after ASKING, and leave the map alone) error.
struct cluster_redirect {
  bool ask = false;
  std::uint16_t slot = 0;
  node_address to;
};

/// Parses "MOVED 3999 127.0.0.1:6381" or "ASK 3999 127.0.0.1:6381" (an error reply's text).
/// An empty host ("MOVED 3999 :6381", a node that does not know its own address) takes
/// `asked_host`, the host of the node that answered.
std::optional<cluster_redirect> parse_redirect(std::string_view error,
                                               const std::string& asked_host);

/// Which primary serves each slot, and each primary's replicas, as one CLUSTER SLOTS reply
/// described them.
class cluster_map {
public:
  static constexpr std::uint16_t unknown = 0xFFFF;

  cluster_map() { owner_.fill(unknown); }

  /// Fills the map from a CLUSTER SLOTS reply asked of a node on `asked_host` (an empty or
  /// "?" address means that host). False, with `error` set, if the reply is not one.
  bool load(const redis_reply& slots_reply, const std::string& asked_host, std::string& error);

  /// The primary serving `slot`, or nullptr while no node is known to serve it.
  const node_address* owner(std::uint16_t slot) const;
  /// Points one slot at a node (a MOVED redirect), adding the node if it is new.
  void assign(std::uint16_t slot, const node_address& to);

  /// Every node that serves at least one slot, in the order first seen.
  std::vector<node_address> primaries() const;
  /// Every node the last CLUSTER SLOTS named, primaries and replicas.
  const std::vector<node_address>& known() const { return known_; }
  /// Slots that no node serves (a cluster missing a shard, or a map not loaded yet).
  std::size_t unserved() const;
  bool empty() const { return nodes_.empty(); }
  /// True if every slot goes to the same node in both maps.
  bool same_routes(const cluster_map& other) const;

private:
  std::uint16_t index_of(const node_address& node);

  std::vector<node_address> nodes_;         ///< the primaries the table points at
  std::vector<node_address> known_;         ///< every node of the last load
  std::array<std::uint16_t, cluster_slots> owner_{}; ///< slot -> index into nodes_, or unknown
};

} // namespace baton::redis_link
