// Parsing the fleet; see node_list.hpp.
#include "model/membership/node_list.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cstdint>

namespace baton::membership {

namespace {

// A record's field, or the default when it is missing or of another type. json::value() throws
// for a present field of the wrong type: a record written by another version of baton, or by
// anyone with access to Redis, must not take the daemon down (found by fuzz/script_replies).
std::string text_of(const nlohmann::json& record, const char* key) {
  auto it = record.find(key);
  return it != record.end() && it->is_string() ? it->get<std::string>() : std::string();
}

std::int64_t number_of(const nlohmann::json& record, const char* key) {
  auto it = record.find(key);
  if (it == record.end() || !it->is_number()) return 0;
  if (it->is_number_unsigned()) // before is_number_integer(), which is true for it as well
    return static_cast<std::int64_t>(std::min<std::uint64_t>(it->get<std::uint64_t>(), INT64_MAX));
  if (it->is_number_integer()) return it->get<std::int64_t>();
  auto value = it->get<double>();
  return value >= -9.2e18 && value <= 9.2e18 ? static_cast<std::int64_t>(value) : 0;
}

} // namespace

redis_link::script_call node_list_call(const std::string& prefix, std::int64_t ttl_ms,
                                       const std::string& one) {
  return {"node_list",
          {node_records_key(prefix), node_seen_key(prefix)},
          {std::to_string(ttl_ms), one},
          0};
}

bool parse_node_list(const redis_link::redis_reply& r, std::vector<node_record>& nodes,
                     std::string& why) {
  nodes.clear();
  if (r.kind != redis_link::reply_kind::array || r.elements.empty()) {
    why = r.str.empty() ? "unexpected reply from redis" : r.str;
    return false;
  }
  for (std::size_t i = 1; i + 2 < r.elements.size(); i += 3) {
    node_record n;
    n.id = r.elements[i].str;
    n.heartbeat_age_ms = r.elements[i + 1].integer;
    auto record = nlohmann::json::parse(r.elements[i + 2].str, nullptr, false);
    if (record.is_object()) {
      n.address = text_of(record, "address");
      n.version = text_of(record, "version");
      n.state = text_of(record, "state");
      n.run_id = text_of(record, "run_id");
      n.sessions = number_of(record, "sessions");
      n.started_ms = number_of(record, "started_ms");
    }
    nodes.push_back(std::move(n));
  }
  std::sort(nodes.begin(), nodes.end(),
            [](const node_record& x, const node_record& y) { return x.id < y.id; });
  return true;
}

} // namespace baton::membership
