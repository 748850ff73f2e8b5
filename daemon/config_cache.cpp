// The cache section; see config_cache.hpp.
#include "daemon/config_cache.hpp"

#include <set>

namespace baton {
namespace {

void read_namespace(checker& c, const YAML::Node& item, cache::cache_namespace& ns) {
  if (!c.expect_map(item, "a cache namespace",
                    {"name", "ttl_ms", "max_ttl_ms", "max_value_bytes", "near_max_bytes",
                     "near_ttl_ms"}))
    return;
  c.read_string(item, "name", ns.name, true);
  if (!item["name"])
    c.problem(item.Mark(), "a cache namespace needs a name");
  else if (!is_plain_name(ns.name))
    c.problem(item["name"].Mark(), "a namespace name is 1 to 64 letters, digits, '-', '_' or "
                                   "'.', got '" + ns.name + "'");
  c.read_ms(item, "ttl_ms", 1, 10LL * 365 * 24 * 3600 * 1000, ns.ttl);
  c.read_ms(item, "max_ttl_ms", 1, 10LL * 365 * 24 * 3600 * 1000, ns.max_ttl);
  if (!item["ttl_ms"] && ns.ttl > ns.max_ttl)
    ns.ttl = ns.max_ttl; // the default ttl_ms is capped by a smaller max_ttl_ms
  else if (ns.ttl > ns.max_ttl)
    c.problem(item.Mark(), "ttl_ms must not exceed max_ttl_ms");
  c.read_size(item, "max_value_bytes", 0, 512LL << 20, ns.max_value_bytes);
  c.read_size(item, "near_max_bytes", 0, 64LL << 30, ns.near_max_bytes);
  c.read_ms(item, "near_ttl_ms", 1, 24LL * 3600 * 1000, ns.near_ttl);
}

} // namespace

void read_cache(checker& c, const YAML::Node& node, cache::cache_config& s) {
  if (!c.expect_map(node, "cache", {"namespaces", "max_key_length", "max_batch_keys", "strict"}))
    return;
  c.read_bool(node, "strict", s.strict);
  c.read_size(node, "max_key_length", 1, 64 * 1024, s.max_key_length);
  c.read_size(node, "max_batch_keys", 1, 100000, s.max_batch_keys);
  auto list = node["namespaces"];
  if (!list) return;
  if (!list.IsSequence()) {
    c.problem(list.Mark(), "cache.namespaces must be a list");
    return;
  }
  std::set<std::string> names;
  for (const auto& item : list) {
    cache::cache_namespace ns;
    read_namespace(c, item, ns);
    if (ns.name.empty()) continue;
    if (!names.insert(ns.name).second)
      c.problem(item.Mark(), "namespace '" + ns.name + "' is listed twice");
    s.namespaces.push_back(std::move(ns));
  }
}

} // namespace baton
