// Slots, the slot map and redirects; see cluster_map.hpp.
#include "redis/cluster_map.hpp"

#include <algorithm>
#include <charconv>

namespace baton::redis_link {

namespace {

// CRC16-CCITT (XMODEM: polynomial 0x1021, initial value 0), the checksum Redis Cluster's key
// hashing specifies; a table built at compile time, one lookup per byte.
constexpr std::array<std::uint16_t, 256> make_crc16_table() {
  std::array<std::uint16_t, 256> table{};
  for (std::uint32_t byte = 0; byte < 256; ++byte) {
    std::uint32_t crc = byte << 8;
    for (int bit = 0; bit < 8; ++bit)
      crc = (crc & 0x8000) ? (crc << 1) ^ 0x1021 : crc << 1;
    table[byte] = static_cast<std::uint16_t>(crc);
  }
  return table;
}
constexpr auto crc16_table = make_crc16_table();

std::uint16_t crc16(std::string_view data) {
  std::uint16_t crc = 0;
  for (unsigned char c : data)
    crc = static_cast<std::uint16_t>((crc << 8) ^ crc16_table[((crc >> 8) ^ c) & 0xFF]);
  return crc;
}

bool parse_port(std::string_view text, unsigned short& port) {
  unsigned value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size() || value == 0 || value > 65535)
    return false;
  port = static_cast<unsigned short>(value);
  return true;
}

// A node of a CLUSTER SLOTS range: [host, port, id, ...]. "" or "?" means the asked host.
bool node_of(const redis_reply& r, const std::string& asked_host, node_address& out) {
  if (r.kind != reply_kind::array || r.elements.size() < 2 ||
      r.elements[1].kind != reply_kind::integer || r.elements[1].integer <= 0 ||
      r.elements[1].integer > 65535)
    return false;
  out.host = r.elements[0].str;
  if (out.host.empty() || out.host == "?") out.host = asked_host;
  out.port = static_cast<unsigned short>(r.elements[1].integer);
  return true;
}

} // namespace

std::uint16_t key_slot(std::string_view key) {
  auto open = key.find('{');
  if (open != std::string_view::npos) {
    auto close = key.find('}', open + 1);
    if (close != std::string_view::npos && close > open + 1)
      key = key.substr(open + 1, close - open - 1);
  }
  return crc16(key) % cluster_slots;
}

std::optional<cluster_redirect> parse_redirect(std::string_view error,
                                               const std::string& asked_host) {
  cluster_redirect r;
  if (error.rfind("MOVED ", 0) == 0) {
    error.remove_prefix(6);
  } else if (error.rfind("ASK ", 0) == 0) {
    r.ask = true;
    error.remove_prefix(4);
  } else {
    return std::nullopt;
  }
  auto space = error.find(' ');
  if (space == std::string_view::npos) return std::nullopt;
  unsigned slot = 0;
  auto slot_text = error.substr(0, space);
  auto [end, ec] = std::from_chars(slot_text.data(), slot_text.data() + slot_text.size(), slot);
  if (ec != std::errc() || end != slot_text.data() + slot_text.size() || slot >= cluster_slots)
    return std::nullopt;
  r.slot = static_cast<std::uint16_t>(slot);
  auto address = error.substr(space + 1);
  auto colon = address.rfind(':');
  if (colon == std::string_view::npos || !parse_port(address.substr(colon + 1), r.to.port))
    return std::nullopt;
  r.to.host = std::string(address.substr(0, colon));
  // An IPv6 host may come bracketed or bare; the map keeps it bare, as CLUSTER SLOTS gives it.
  if (r.to.host.size() >= 2 && r.to.host.front() == '[' && r.to.host.back() == ']')
    r.to.host = r.to.host.substr(1, r.to.host.size() - 2);
  if (r.to.host.empty() || r.to.host == "?") r.to.host = asked_host;
  return r;
}

bool cluster_map::load(const redis_reply& reply, const std::string& asked_host,
                       std::string& error) {
  if (reply.kind != reply_kind::array) {
    error = "CLUSTER SLOTS answered " + (reply.is_error() ? reply.str : std::string("not a list"));
    return false;
  }
  cluster_map next;
  for (const auto& range : reply.elements) {
    if (range.kind != reply_kind::array || range.elements.size() < 3 ||
        range.elements[0].kind != reply_kind::integer ||
        range.elements[1].kind != reply_kind::integer) {
      error = "CLUSTER SLOTS answered a range that is not [start, end, primary, replicas...]";
      return false;
    }
    auto first = range.elements[0].integer;
    auto last = range.elements[1].integer;
    node_address primary;
    if (first < 0 || last < first || last >= static_cast<std::int64_t>(cluster_slots) ||
        !node_of(range.elements[2], asked_host, primary)) {
      error = "CLUSTER SLOTS answered a malformed range";
      return false;
    }
    auto index = next.index_of(primary);
    for (auto slot = first; slot <= last; ++slot)
      next.owner_[static_cast<std::size_t>(slot)] = index;
    for (std::size_t i = 2; i < range.elements.size(); ++i) {
      node_address node;
      if (node_of(range.elements[i], asked_host, node) &&
          std::find(next.known_.begin(), next.known_.end(), node) == next.known_.end())
        next.known_.push_back(node);
    }
  }
  *this = std::move(next);
  return true;
}

std::uint16_t cluster_map::index_of(const node_address& node) {
  auto it = std::find(nodes_.begin(), nodes_.end(), node);
  if (it != nodes_.end()) return static_cast<std::uint16_t>(it - nodes_.begin());
  nodes_.push_back(node);
  if (std::find(known_.begin(), known_.end(), node) == known_.end()) known_.push_back(node);
  return static_cast<std::uint16_t>(nodes_.size() - 1);
}

const node_address* cluster_map::owner(std::uint16_t slot) const {
  auto index = owner_[slot % cluster_slots];
  return index == unknown || index >= nodes_.size() ? nullptr : &nodes_[index];
}

void cluster_map::assign(std::uint16_t slot, const node_address& to) {
  owner_[slot % cluster_slots] = index_of(to);
}

std::vector<node_address> cluster_map::primaries() const {
  std::vector<bool> serves(nodes_.size(), false);
  for (auto index : owner_)
    if (index != unknown && index < serves.size()) serves[index] = true;
  std::vector<node_address> out;
  for (std::size_t i = 0; i < nodes_.size(); ++i)
    if (serves[i]) out.push_back(nodes_[i]);
  return out;
}

bool cluster_map::same_routes(const cluster_map& other) const {
  for (std::size_t slot = 0; slot < cluster_slots; ++slot) {
    auto* a = owner(static_cast<std::uint16_t>(slot));
    auto* b = other.owner(static_cast<std::uint16_t>(slot));
    if ((a == nullptr) != (b == nullptr) || (a && !(*a == *b))) return false;
  }
  return true;
}

std::size_t cluster_map::unserved() const {
  return static_cast<std::size_t>(
      std::count_if(owner_.begin(), owner_.end(),
                    [this](std::uint16_t i) { return i == unknown || i >= nodes_.size(); }));
}

} // namespace baton::redis_link
