// Starts a private Redis Cluster for a test: primaries and their replicas (test_redis servers,
// each on a loopback TCP port besides its Unix socket, since cluster nodes and clients reach
// each other over TCP) joined by `redis-cli --cluster create`. Tests move slots, fail over and
// kill primaries to see what batond does when a slot changes owner. Never a mock: Debian's
// real redis-server 7.0 and redis-cli.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "tests/support/test_redis.hpp"

namespace baton::test {

class test_cluster {
public:
  static constexpr int slot_count = 16384;

  /// Starts primaries * (1 + replicas_per_primary) nodes, joins them and waits (up to 30 s)
  /// until the cluster is settled (see wait_until_settled()). redis-cli creates no cluster of
  /// fewer than 3 primaries. Throws std::runtime_error, naming a log, on failure.
  explicit test_cluster(std::size_t primaries = 3, std::size_t replicas_per_primary = 1,
                        int node_timeout_ms = 1000);
  /// Kills every node (each test_redis kills its own).
  ~test_cluster() = default;
  test_cluster(const test_cluster&) = delete;
  test_cluster& operator=(const test_cluster&) = delete;

  /// "redis-cluster://127.0.0.1:P1,127.0.0.1:P2,...", the URL batond accepts: the primaries
  /// at start as seeds. It stays the same after failovers (any node, primary or not, answers
  /// CLUSTER SLOTS), so a daemon restarted later gets the URL the first one got.
  std::string url() const;
  /// Every node, in start order, killed ones included.
  std::vector<unsigned short> ports() const { return ports_; }
  /// The nodes that are primaries now as CLUSTER NODES of a live node says (in start order):
  /// a killed primary counts until the cluster has marked it failed.
  std::vector<unsigned short> primary_ports() const;
  /// The port of the primary serving `slot` now, per CLUSTER SLOTS of a live node. During a
  /// migration that is still the source. Throws std::runtime_error if no node answers.
  unsigned short owner_of_slot(int slot) const;
  /// The node listening on `port` (throws std::out_of_range for another port). Killed and
  /// restarted (start()), a node comes back with its id and rejoins the cluster, a former
  /// primary as a replica of whichever node took its slots.
  test_redis& node_on(unsigned short port);
  const test_redis& node_on(unsigned short port) const;
  /// The node's id (CLUSTER MYID), as CLUSTER NODES and SETSLOT name it.
  std::string node_id(unsigned short port) const;
  /// Runs redis-cli against the node on `port` over TCP, without -c: a key of another node's
  /// slot gets "MOVED <slot> 127.0.0.1:<port>" (or "ASK ...") back, as output (trimmed).
  std::string cli(unsigned short port, const std::vector<std::string>& args) const;
  /// The slot of `key` as CLUSTER KEYSLOT computes it: CRC16 (XMODEM) mod 16384 of the key,
  /// or of its hash tag (what lies between the first '{' and the next '}', if not empty).
  static int key_slot(const std::string& key);

  // -- moving a slot ----------------------------------------------------------------------------

  /// Moves `slot` with its keys from its owner to the primary on `to_port` as
  /// `redis-cli --cluster reshard` does: begin_migration(), then finish_migration().
  void migrate_slot(int slot, unsigned short to_port);
  /// CLUSTER SETSLOT IMPORTING on the target, then MIGRATING on the owner. From then on the
  /// owner answers ASK for keys of the slot it no longer has, and the target serves them only
  /// after ASKING.
  void begin_migration(int slot, unsigned short to_port);
  /// Moves up to `max_keys` keys of the slot (GETKEYSINSLOT, then MIGRATE, 100 at a time) to
  /// the target of a migration begun; returns how many moved (fewer once the slot is empty).
  std::size_t migrate_keys(int slot, unsigned short to_port, std::size_t max_keys = SIZE_MAX);
  /// Moves the keys left, then CLUSTER SETSLOT NODE on the target, the owner and every other
  /// primary, and waits (up to 30 s) until every node names the target as the owner.
  void finish_migration(int slot, unsigned short to_port);

  // -- failures ---------------------------------------------------------------------------------

  /// Waits until settled, then CLUSTER FAILOVER on a replica of that primary (asked again if
  /// the primary did not take part within the 5 s Redis allows); waits until the replica says
  /// it is a master and every node names it for the primary's slots, and the cluster is settled
  /// again (the old primary a replica in sync). Returns the replica's port.
  unsigned short failover(unsigned short primary_port);
  /// Waits until settled, then SIGKILLs that primary, like a crash; waits until one of its
  /// replicas serves all its slots (2.2 s after the kill, measured with a 1 s node timeout)
  /// and the cluster is settled again. Returns that replica's port. Throws if the primary has
  /// no replica or no slot (the cluster promotes none then).
  unsigned short kill_primary(unsigned short primary_port);
  /// Waits (up to 30 s) until every running node says cluster_state:ok, sees every running
  /// node without a failure flag, and gives the same slot owners in CLUSTER SLOTS, and every
  /// running replica is in sync with its primary. Throws std::runtime_error otherwise. A
  /// paused node counts as running, so this waits in vain while one is paused.
  void wait_until_settled();

private:
  /// A range of slots and the port of the primary serving it, as CLUSTER SLOTS gives it.
  struct slot_range {
    int first = 0;
    int last = 0;
    unsigned short port = 0;
    bool operator==(const slot_range& other) const {
      return first == other.first && last == other.last && port == other.port;
    }
  };

  /// What the cluster still waits for to be settled (see wait_until_settled()), "" if nothing.
  std::string unsettled() const;
  /// Waits until settled and `done()` (an exception from it counts as not yet) holds.
  void wait_for(const std::string& what, const std::function<bool()>& done, int timeout_ms);
  /// The slot owners as the node on `port` sees them (sorted by slot).
  static std::vector<slot_range> slots_seen_by(unsigned short port);
  /// The slot owners as the first running node that answers sees them.
  std::vector<slot_range> current_slots() const;
  /// The slot ranges `port` serves now.
  std::vector<slot_range> slots_of(unsigned short port) const;
  /// True if every slot of `ranges` belongs to `port` in `table`.
  static bool owns(const std::vector<slot_range>& table, const std::vector<slot_range>& ranges,
                   unsigned short port);
  /// The running replicas of the primary on `port` without a failure flag, in start order.
  std::vector<unsigned short> replicas_of(unsigned short port) const;
  /// Sends a command expected to answer +OK; throws, naming the node's log, otherwise.
  void expect_ok(unsigned short port, const std::vector<std::string>& args) const;
  std::string log_of(unsigned short port) const;

  temp_dir dir_; ///< create.log: what redis-cli --cluster create printed
  std::vector<std::unique_ptr<test_redis>> nodes_;
  std::vector<unsigned short> ports_; ///< TCP port of nodes_[i]
  std::vector<std::string> ids_;      ///< node id of nodes_[i]
  std::vector<unsigned short> seeds_; ///< the primaries right after creation, for url()
};

} // namespace baton::test
