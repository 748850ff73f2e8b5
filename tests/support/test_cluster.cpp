// A private Redis Cluster; see test_cluster.hpp.
#include "tests/support/test_cluster.hpp"

#include <algorithm>
#include <chrono>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <string_view>
#include <thread>
#include <utility>

#include "protocol/resp_client.hpp"

namespace baton::test {

namespace {

using protocol::resp_client;
using protocol::resp_value;

// Forming the cluster takes ~2 s on an idle machine (the join, then each replica's first
// sync), a failover after a kill about as long; CI machines are loaded.
constexpr int cluster_settle_timeout_ms = 30000;
// One call of a check: a node that has not answered in 1 s is not settled yet (a paused one
// never answers), and the check moves on instead of hanging.
constexpr int check_timeout_ms = 1000;
// MIGRATE itself waits up to 5 s (its timeout argument) for the target.
constexpr int command_timeout_ms = 10000;
constexpr std::size_t keys_per_migrate = 100;

std::string address(unsigned short port) {
  return "127.0.0.1:" + std::to_string(port);
}

// Over resp_client rather than redis-cli: structured replies (CLUSTER SLOTS nests arrays that
// redis-cli flattens), keys of any bytes, and a timeout for a paused node.
resp_value call(unsigned short port, const std::vector<std::string>& args, int timeout_ms) {
  resp_client node(address(port), timeout_ms);
  return node.call(args);
}

std::string joined(const std::vector<std::string>& args) {
  std::string text;
  for (const auto& a : args)
    text += (text.empty() ? "" : " ") + a;
  return text;
}

std::string shell_quoted(const std::string& arg) {
  std::string quoted = "'";
  for (char c : arg)
    quoted += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return quoted + "'";
}

// A field of an INFO reply ("role", "master_link_status"), "" if absent. INFO opens with a
// "# Section" line, so a field always follows a newline.
std::string info_field(const std::string& info, const std::string& name) {
  auto at = info.find("\n" + name + ":");
  if (at == std::string::npos) return "";
  auto start = at + name.size() + 2;
  return info.substr(start, info.find_first_of("\r\n", start) - start);
}

std::string role_of(unsigned short port) {
  try {
    return info_field(call(port, {"INFO", "replication"}, check_timeout_ms).str, "role");
  } catch (const std::exception&) {
    return "";
  }
}

// One line of CLUSTER NODES: "<id> <ip:port@bus-port> <flags> <primary id or -> ...".
struct node_line {
  std::string id;
  unsigned short port = 0; ///< 0 for a node without an address yet (":0@0")
  std::string flags;       ///< myself, master, slave, fail?, fail, handshake, noaddr, ...
  std::string primary_id;  ///< "-" for a primary
};

std::vector<node_line> parse_nodes(const std::string& text) {
  std::vector<node_line> nodes;
  std::istringstream lines(text);
  std::string line;
  while (std::getline(lines, line)) {
    std::istringstream fields(line);
    node_line node;
    std::string where;
    if (!(fields >> node.id >> where >> node.flags >> node.primary_id)) continue;
    auto host_port = where.substr(0, where.find('@')); // ",hostname" follows the bus port
    auto digits = host_port.substr(host_port.rfind(':') + 1);
    if (!digits.empty() && digits.size() <= 5 &&
        std::all_of(digits.begin(), digits.end(), [](char c) { return c >= '0' && c <= '9'; }))
      node.port = static_cast<unsigned short>(std::stoul(digits));
    nodes.push_back(node);
  }
  return nodes;
}

std::vector<node_line> nodes_seen_by(unsigned short port) {
  auto reply = call(port, {"CLUSTER", "NODES"}, check_timeout_ms);
  if (reply.is_error()) throw std::runtime_error("CLUSTER NODES: " + reply.str);
  return parse_nodes(reply.str);
}

// CLUSTER NODES as the first running node that answers sees it.
std::vector<node_line> nodes_seen_by_any(const std::vector<std::unique_ptr<test_redis>>& nodes,
                                         const std::vector<unsigned short>& ports) {
  for (std::size_t i = 0; i < nodes.size(); ++i) {
    if (!nodes[i]->running()) continue;
    try {
      return nodes_seen_by(ports[i]);
    } catch (const std::exception&) {
      continue;
    }
  }
  throw std::runtime_error("cluster: no node answers CLUSTER NODES");
}

const node_line* line_of(const std::vector<node_line>& nodes, unsigned short port) {
  auto found = std::find_if(nodes.begin(), nodes.end(), [&](auto& n) { return n.port == port; });
  return found == nodes.end() ? nullptr : &*found;
}

bool has_flag(const node_line& node, const std::string& flag) {
  std::istringstream flags(node.flags);
  std::string f;
  while (std::getline(flags, f, ','))
    if (f == flag) return true;
  return false;
}

// Known, reachable and not suspected: "fail?" is one node's suspicion, "fail" the cluster's
// verdict; "handshake" and "noaddr" are a node not yet (or no longer) met.
bool healthy(const node_line& node) {
  return !has_flag(node, "fail?") && !has_flag(node, "fail") && !has_flag(node, "handshake") &&
         !has_flag(node, "noaddr");
}

} // namespace

test_cluster::test_cluster(std::size_t primaries, std::size_t replicas_per_primary,
                           int node_timeout_ms) {
  if (primaries < 3)
    throw std::runtime_error("cluster: redis-cli creates no cluster of fewer than 3 primaries (" +
                             std::to_string(primaries) + " asked for)");
  std::vector<unsigned short> taken;
  for (std::size_t i = 0; i < primaries * (1 + replicas_per_primary); ++i) {
    auto port = unused_port(taken);
    taken.push_back(port);
    // The bus listens on port + 10000 unless told otherwise, impossible above 55535 (where
    // half of free_port()'s ports are) and maybe taken below: a free port of its own.
    auto bus_port = unused_port(taken);
    taken.push_back(bus_port);
    // test_redis already binds to 127.0.0.1 and turns persistence off.
    std::vector<std::string> extra = {
        "--port", std::to_string(port), "--cluster-enabled", "yes",
        // Relative to --dir, the node's own temp dir (test_redis passes it first, and
        // redis-server changes into it as it reads it): a restarted node finds its id there.
        "--cluster-config-file", "nodes.conf", "--cluster-port", std::to_string(bus_port),
        "--cluster-node-timeout", std::to_string(node_timeout_ms),
        // A master waits 5 s by default before a full sync, hoping more replicas come to
        // share it; every replica's first sync here would pay that.
        "--repl-diskless-sync-delay", "0",
        // By default a replica that has not heard from its primary for 10 node timeouts + 10 s
        // refuses to take over; a test that pauses a primary that long still wants a failover.
        "--cluster-replica-validity-factor", "0"};
    nodes_.push_back(std::make_unique<test_redis>(std::move(extra)));
    ports_.push_back(port);
    try {
      auto id = call(port, {"CLUSTER", "MYID"}, command_timeout_ms);
      if (id.kind != resp_value::type::bulk || id.str.empty())
        throw std::runtime_error("answered " + id.to_string());
      ids_.push_back(id.str);
    } catch (const std::exception& e) {
      throw std::runtime_error("cluster: CLUSTER MYID on port " + std::to_string(port) + ": " +
                               e.what() + "; see " + log_of(port));
    }
  }

  // redis-cli waits for the nodes to agree without a limit of its own.
  std::string command = "timeout 60 redis-cli --cluster create";
  for (auto port : ports_)
    command += " " + address(port);
  command += " --cluster-replicas " + std::to_string(replicas_per_primary) + " --cluster-yes";
  std::string output;
  int status = run_command(command, &output);
  auto create_log = dir_.file("create.log");
  std::ofstream out(create_log);
  out << command << "\n" << output;
  if (status != 0)
    throw std::runtime_error("cluster: redis-cli --cluster create exited with " +
                             std::to_string(status) + "; see " + create_log + ":\n" + output);

  wait_until_settled();
  seeds_ = primary_ports();
}

std::string test_cluster::url() const {
  std::string url = "redis-cluster://";
  for (std::size_t i = 0; i < seeds_.size(); ++i)
    url += (i > 0 ? "," : "") + address(seeds_[i]);
  return url;
}

const test_redis& test_cluster::node_on(unsigned short port) const {
  for (std::size_t i = 0; i < ports_.size(); ++i)
    if (ports_[i] == port) return *nodes_[i];
  throw std::out_of_range("cluster: no node on port " + std::to_string(port));
}

test_redis& test_cluster::node_on(unsigned short port) {
  return const_cast<test_redis&>(std::as_const(*this).node_on(port));
}

std::string test_cluster::node_id(unsigned short port) const {
  for (std::size_t i = 0; i < ports_.size(); ++i)
    if (ports_[i] == port) return ids_[i];
  throw std::out_of_range("cluster: no node on port " + std::to_string(port));
}

std::string test_cluster::log_of(unsigned short port) const {
  return node_on(port).dir() + "/redis.log";
}

std::string test_cluster::cli(unsigned short port, const std::vector<std::string>& args) const {
  std::string command = "redis-cli -h 127.0.0.1 -p " + std::to_string(port);
  for (const auto& a : args)
    command += " " + shell_quoted(a);
  std::string output;
  run_command(command, &output);
  while (!output.empty() && (output.back() == '\n' || output.back() == '\r'))
    output.pop_back();
  return output;
}

int test_cluster::key_slot(const std::string& key) {
  std::string_view hashed = key;
  auto open = key.find('{');
  if (open != std::string::npos) {
    auto close = key.find('}', open + 1);
    if (close != std::string::npos && close > open + 1)
      hashed = hashed.substr(open + 1, close - open - 1);
  }
  // CRC16 as XMODEM has it (Redis' crc16.c): polynomial 0x1021, initial value 0, no
  // reflection, no final XOR. Its check value, of "123456789", is 0x31C3.
  std::uint16_t crc = 0;
  for (unsigned char c : hashed) {
    crc ^= static_cast<std::uint16_t>(c << 8);
    for (int bit = 0; bit < 8; ++bit)
      crc = static_cast<std::uint16_t>((crc & 0x8000) ? (crc << 1) ^ 0x1021 : crc << 1);
  }
  return crc % slot_count;
}

// -- the cluster's view ---------------------------------------------------------------------------

std::vector<test_cluster::slot_range> test_cluster::slots_seen_by(unsigned short port) {
  auto reply = call(port, {"CLUSTER", "SLOTS"}, check_timeout_ms);
  if (reply.kind != resp_value::type::array)
    throw std::runtime_error("CLUSTER SLOTS on port " + std::to_string(port) + " answered " +
                             reply.to_string());
  // Each entry: first slot, last slot, [ip, port, id, metadata] of the primary, then replicas.
  std::vector<slot_range> table;
  for (const auto& entry : reply.elements) {
    if (entry.elements.size() < 3 || entry.elements[2].elements.size() < 2)
      throw std::runtime_error("CLUSTER SLOTS on port " + std::to_string(port) +
                               " has an entry without a primary: " + entry.to_string());
    table.push_back({static_cast<int>(entry.elements[0].integer),
                     static_cast<int>(entry.elements[1].integer),
                     static_cast<unsigned short>(entry.elements[2].elements[1].integer)});
  }
  std::sort(table.begin(), table.end(), [](auto& a, auto& b) { return a.first < b.first; });
  return table;
}

std::vector<test_cluster::slot_range> test_cluster::current_slots() const {
  std::string why = "no node runs";
  for (std::size_t i = 0; i < nodes_.size(); ++i) {
    if (!nodes_[i]->running()) continue;
    try {
      return slots_seen_by(ports_[i]);
    } catch (const std::exception& e) {
      why = e.what();
    }
  }
  throw std::runtime_error("cluster: no node answers CLUSTER SLOTS (" + why + ")");
}

unsigned short test_cluster::owner_of_slot(int slot) const {
  if (slot < 0 || slot >= slot_count)
    throw std::out_of_range("cluster: no slot " + std::to_string(slot));
  for (const auto& range : current_slots())
    if (range.first <= slot && slot <= range.last) return range.port;
  throw std::runtime_error("cluster: no node serves slot " + std::to_string(slot));
}

std::vector<test_cluster::slot_range> test_cluster::slots_of(unsigned short port) const {
  std::vector<slot_range> owned;
  for (const auto& range : current_slots())
    if (range.port == port) owned.push_back(range);
  return owned;
}

bool test_cluster::owns(const std::vector<slot_range>& table, const std::vector<slot_range>& ranges,
                        unsigned short port) {
  for (const auto& wanted : ranges)
    for (const auto& range : table)
      if (range.first <= wanted.last && wanted.first <= range.last && range.port != port)
        return false;
  return true;
}

std::vector<unsigned short> test_cluster::primary_ports() const {
  auto seen = nodes_seen_by_any(nodes_, ports_);
  std::vector<unsigned short> primaries;
  for (auto port : ports_) {
    auto line = line_of(seen, port);
    if (line != nullptr && has_flag(*line, "master") && !has_flag(*line, "fail") &&
        !has_flag(*line, "handshake"))
      primaries.push_back(port);
  }
  return primaries;
}

std::vector<unsigned short> test_cluster::replicas_of(unsigned short port) const {
  auto id = node_id(port);
  auto seen = nodes_seen_by_any(nodes_, ports_);
  std::vector<unsigned short> replicas;
  for (std::size_t j = 0; j < nodes_.size(); ++j) {
    auto line = line_of(seen, ports_[j]);
    if (nodes_[j]->running() && line != nullptr && has_flag(*line, "slave") &&
        line->primary_id == id && healthy(*line))
      replicas.push_back(ports_[j]);
  }
  return replicas;
}

std::string test_cluster::unsettled() const {
  std::vector<slot_range> agreed;
  unsigned short agreed_by = 0;
  for (std::size_t i = 0; i < nodes_.size(); ++i) {
    if (!nodes_[i]->running()) continue;
    auto port = ports_[i];
    auto where = "the node on port " + std::to_string(port);
    auto see_log = "; see " + log_of(port);
    try {
      resp_client node(address(port), check_timeout_ms);
      if (node.call({"CLUSTER", "INFO"}).str.find("cluster_state:ok") == std::string::npos)
        return where + " to say cluster_state:ok" + see_log;
      auto seen = parse_nodes(node.call({"CLUSTER", "NODES"}).str);
      // Only the primaries: a node lists a replica in CLUSTER SLOTS once gossip reports a
      // replication offset for it, and in the order it learned of them.
      auto table = slots_seen_by(port);
      for (std::size_t j = 0; j < nodes_.size(); ++j) {
        if (!nodes_[j]->running()) continue;
        auto line = line_of(seen, ports_[j]);
        if (line == nullptr || !healthy(*line))
          return where + " to see port " + std::to_string(ports_[j]) + " up (" +
                 (line == nullptr ? "unknown" : line->flags) + ")" + see_log;
        // Right after `--cluster create`, and after a demoted primary comes back, a node can
        // still be listed as a primary without slots; a test that picks "a primary" or "its
        // replicas" would then pick wrong.
        bool serves = std::any_of(table.begin(), table.end(),
                                  [&](const slot_range& r) { return r.port == ports_[j]; });
        if (has_flag(*line, "master") && !serves)
          return where + " to see port " + std::to_string(ports_[j]) +
                 " as a replica, not a primary without slots" + see_log;
      }
      auto replication = node.call({"INFO", "replication"}).str;
      if (info_field(replication, "role") == "slave" &&
          info_field(replication, "master_link_status") != "up")
        return where + " to finish syncing with its primary" + see_log;
      if (agreed_by == 0) {
        agreed = table;
        agreed_by = port;
      } else if (table != agreed) {
        return "the nodes on ports " + std::to_string(agreed_by) + " and " + std::to_string(port) +
               " to agree on CLUSTER SLOTS";
      }
    } catch (const std::exception& e) {
      return where + " to answer (" + e.what() + ")" + see_log;
    }
  }
  return agreed_by == 0 ? "a node to run" : "";
}

void test_cluster::wait_for(const std::string& what, const std::function<bool()>& done,
                            int timeout_ms) {
  std::string waiting_for;
  bool ok = slowly_eventually(
      [&] {
        waiting_for = unsettled();
        if (!waiting_for.empty()) return false;
        waiting_for = what;
        try {
          return done();
        } catch (const std::exception& e) {
          waiting_for = what + " (" + e.what() + ")";
          return false;
        }
      },
      timeout_ms);
  if (!ok) throw std::runtime_error("cluster: gave up waiting for " + waiting_for);
}

void test_cluster::wait_until_settled() {
  wait_for(
      "the cluster to settle", [] { return true; }, cluster_settle_timeout_ms);
}

void test_cluster::expect_ok(unsigned short port, const std::vector<std::string>& args) const {
  resp_value reply;
  try {
    reply = call(port, args, command_timeout_ms);
  } catch (const std::exception& e) {
    throw std::runtime_error("cluster: " + joined(args) + " on port " + std::to_string(port) +
                             ": " + e.what() + "; see " + log_of(port));
  }
  if (reply.is_error() || reply.str != "OK")
    throw std::runtime_error("cluster: " + joined(args) + " on port " + std::to_string(port) +
                             " answered " + reply.to_string() + "; see " + log_of(port));
}

// -- moving a slot --------------------------------------------------------------------------------

void test_cluster::migrate_slot(int slot, unsigned short to_port) {
  begin_migration(slot, to_port);
  finish_migration(slot, to_port);
}

void test_cluster::begin_migration(int slot, unsigned short to_port) {
  auto from = owner_of_slot(slot);
  if (from == to_port)
    throw std::runtime_error("cluster: port " + std::to_string(to_port) + " already serves slot " +
                             std::to_string(slot));
  auto number = std::to_string(slot);
  // The target first, as redis-cli does: a client the source sends on with ASK must find it
  // importing, or it would be sent back with MOVED.
  expect_ok(to_port, {"CLUSTER", "SETSLOT", number, "IMPORTING", node_id(from)});
  expect_ok(from, {"CLUSTER", "SETSLOT", number, "MIGRATING", node_id(to_port)});
}

std::size_t test_cluster::migrate_keys(int slot, unsigned short to_port, std::size_t max_keys) {
  auto from = owner_of_slot(slot); // the source until SETSLOT NODE
  auto where = " of slot " + std::to_string(slot) + " on port " + std::to_string(from);
  auto see_logs = "; see " + log_of(from) + " and " + log_of(to_port);
  std::size_t moved = 0;
  while (moved < max_keys) {
    auto batch = std::min(keys_per_migrate, max_keys - moved);
    resp_value keys, reply;
    std::vector<std::string> migrate = {"MIGRATE", "127.0.0.1", std::to_string(to_port), "", "0",
                                        "5000",    "KEYS"};
    try {
      keys = call(from, {"CLUSTER", "GETKEYSINSLOT", std::to_string(slot), std::to_string(batch)},
                  command_timeout_ms);
      if (keys.kind != resp_value::type::array)
        throw std::runtime_error("GETKEYSINSLOT answered " + keys.to_string());
      if (keys.elements.empty()) break;
      for (const auto& key : keys.elements)
        migrate.push_back(key.str);
      reply = call(from, migrate, command_timeout_ms);
    } catch (const std::exception& e) {
      throw std::runtime_error("cluster: moving keys" + where + ": " + e.what() + see_logs);
    }
    // NOKEY: every key of the batch expired in between (MIGRATE deletes them, so the next
    // GETKEYSINSLOT no longer lists them).
    if (reply.is_error())
      throw std::runtime_error("cluster: MIGRATE" + where + " to port " + std::to_string(to_port) +
                               " answered " + reply.str + see_logs);
    if (reply.str != "NOKEY") moved += keys.elements.size();
  }
  return moved;
}

void test_cluster::finish_migration(int slot, unsigned short to_port) {
  auto from = owner_of_slot(slot);
  migrate_keys(slot, to_port);
  auto number = std::to_string(slot);
  auto to_id = node_id(to_port);
  // The target first: it bumps its config epoch then, so its claim wins wherever gossip meets
  // the source's; then the source, which stops answering ASK; then the other primaries, which
  // would otherwise send clients to the source until gossip reaches them.
  std::vector<unsigned short> order = {to_port, from};
  for (auto port : primary_ports())
    if (port != to_port && port != from && node_on(port).running()) order.push_back(port);
  for (auto port : order)
    expect_ok(port, {"CLUSTER", "SETSLOT", number, "NODE", to_id});
  wait_for(
      "every node to name port " + std::to_string(to_port) + " as the owner of slot " + number,
      [&] { return owner_of_slot(slot) == to_port; }, cluster_settle_timeout_ms);
}

// -- failures -------------------------------------------------------------------------------------

unsigned short test_cluster::failover(unsigned short primary_port) {
  wait_until_settled();
  auto replicas = replicas_of(primary_port);
  if (replicas.empty())
    throw std::runtime_error("cluster: port " + std::to_string(primary_port) +
                             " has no replica to fail over to");
  auto replica = replicas.front();
  auto slots = slots_of(primary_port);
  // A manual failover the primary has not helped with (it pauses its clients and sends its
  // offset) in 5 s is dropped silently; ask again then.
  bool promoted = false;
  for (int attempt = 0; attempt < 3 && !promoted; ++attempt) {
    expect_ok(replica, {"CLUSTER", "FAILOVER"});
    promoted = slowly_eventually([&] { return role_of(replica) == "master"; }, 10000);
  }
  if (!promoted)
    throw std::runtime_error("cluster: the replica on port " + std::to_string(replica) +
                             " did not become a master after CLUSTER FAILOVER; see " +
                             log_of(replica));
  wait_for(
      "every node to name port " + std::to_string(replica) + " for the slots of port " +
          std::to_string(primary_port),
      [&] { return owns(current_slots(), slots, replica); }, cluster_settle_timeout_ms);
  return replica;
}

unsigned short test_cluster::kill_primary(unsigned short primary_port) {
  wait_until_settled();
  auto replicas = replicas_of(primary_port);
  auto slots = slots_of(primary_port);
  if (replicas.empty() || slots.empty())
    throw std::runtime_error("cluster: no replica would take over from port " +
                             std::to_string(primary_port) + " (" + std::to_string(replicas.size()) +
                             " replicas, " + std::to_string(slots.size()) + " slot ranges)");
  node_on(primary_port).kill();
  // Until the others mark it failed (a node timeout, then a majority of primaries agreeing),
  // the cluster says cluster_state:ok with the dead node as owner: wait for the new owner.
  unsigned short promoted = 0;
  wait_for(
      "a replica of port " + std::to_string(primary_port) + " to serve its slots; see " +
          log_of(replicas.front()),
      [&] {
        auto table = current_slots();
        for (auto replica : replicas)
          if (owns(table, slots, replica)) promoted = replica;
        return promoted != 0;
      },
      cluster_settle_timeout_ms);
  return promoted;
}

} // namespace baton::test
