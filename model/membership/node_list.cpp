// Parsing the fleet; see node_list.hpp.
#include "model/membership/node_list.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>


namespace baton::membership {

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
      n.address = record.value("address", "");
      n.version = record.value("version", "");
      n.state = record.value("state", "");
      n.run_id = record.value("run_id", "");
      n.sessions = record.value("sessions", std::int64_t{0});
      n.started_ms = record.value("started_ms", std::int64_t{0});
    }
    nodes.push_back(std::move(n));
  }
  std::sort(nodes.begin(), nodes.end(),
            [](const node_record& x, const node_record& y) { return x.id < y.id; });
  return true;
}

} // namespace baton::membership
