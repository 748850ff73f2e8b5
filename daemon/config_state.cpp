// The state section; see config_state.hpp.
#include "daemon/config_state.hpp"

#include <set>

namespace baton {
namespace {

using state::state_callers;
using state::state_namespace;

std::optional<state_callers> read_state_callers(checker& c, const YAML::Node& ns,
                                                const char* key) {
  auto node = ns[key];
  if (!node) return std::nullopt;
  if (!c.expect_map(node, std::string("a namespace's ") + key, {"users", "uids", "groups"}))
    return std::nullopt;
  state_callers callers;
  read_callers(c, node, callers.uids, callers.gids);
  if (callers.uids.empty() && callers.gids.empty())
    c.problem(node.Mark(), std::string(key) +
                               " names nobody: list users, uids or groups, or leave it out to "
                               "let every caller the access rules allow");
  return callers;
}

void read_namespace(checker& c, const YAML::Node& item, state_namespace& ns,
                    const std::string& prefix, bool have_keks) {
  if (!c.expect_map(item, "a state namespace",
                    {"name", "key_prefix", "default_ttl_ms", "max_ttl_ms", "max_value_bytes",
                     "encrypt", "readers", "writers"}))
    return;
  c.read_string(item, "name", ns.name, true);
  if (!item["name"])
    c.problem(item.Mark(), "a state namespace needs a name");
  else if (!is_plain_name(ns.name))
    c.problem(item["name"].Mark(), "a namespace name is 1 to 64 letters, digits, '-', '_' or "
                                   "'.', got '" + ns.name + "'");
  ns.key_prefix = prefix + ":state:" + ns.name + ":";
  c.read_string(item, "key_prefix", ns.key_prefix, true);
  // The default is made of the prefix and the name, which are checked on their own.
  if (item["key_prefix"] && ns.key_prefix.find_first_of("{} \r\n") != std::string::npos)
    c.problem(item["key_prefix"].Mark(), "key_prefix must not contain braces or whitespace");
  c.read_ms(item, "default_ttl_ms", 0, 10LL * 365 * 24 * 3600 * 1000, ns.default_ttl);
  c.read_ms(item, "max_ttl_ms", 10, 10LL * 365 * 24 * 3600 * 1000, ns.max_ttl);
  if (ns.default_ttl > ns.max_ttl)
    c.problem(item.Mark(), "default_ttl_ms must not exceed max_ttl_ms");
  c.read_size(item, "max_value_bytes", 0, 512LL << 20, ns.max_value_bytes);
  c.read_bool(item, "encrypt", ns.encrypt);
  if (ns.encrypt && !have_keks)
    c.problem(item["encrypt"].Mark(), "namespace '" + ns.name +
                                          "' is encrypted at rest, which needs secrets.keks");
  ns.readers = read_state_callers(c, item, "readers");
  ns.writers = read_state_callers(c, item, "writers");
}

} // namespace

void read_state(checker& c, const YAML::Node& node, state::state_config& s,
                const std::string& prefix, bool have_keks) {
  if (!c.expect_map(node, "state",
                    {"namespaces", "max_key_length", "max_batch_keys", "max_scan_count"}))
    return;
  c.read_size(node, "max_key_length", 1, 64 * 1024, s.max_key_length);
  c.read_size(node, "max_batch_keys", 1, 100000, s.max_batch_keys);
  c.read_size(node, "max_scan_count", 1, 1000000, s.max_scan_count);
  auto list = node["namespaces"];
  if (!list) return;
  if (!list.IsSequence()) {
    c.problem(list.Mark(), "state.namespaces must be a list");
    return;
  }
  std::set<std::string> names;
  std::set<std::string> prefixes;
  for (const auto& item : list) {
    state_namespace ns;
    read_namespace(c, item, ns, prefix, have_keks);
    if (ns.name.empty()) continue;
    if (!names.insert(ns.name).second)
      c.problem(item.Mark(), "namespace '" + ns.name + "' is listed twice");
    // Entries are "<key_prefix>{<key>}" and a prefix has no braces, so two namespaces share
    // entries only if they share the prefix.
    if (!prefixes.insert(ns.key_prefix).second)
      c.problem(item.Mark(), "namespace '" + ns.name + "': key_prefix '" + ns.key_prefix +
                                 "' is another namespace's too");
    s.namespaces.push_back(std::move(ns));
  }
}

} // namespace baton
