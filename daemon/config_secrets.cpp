// The secrets section; see config_secrets.hpp.
#include "daemon/config_secrets.hpp"

#include "model/secret/kek_loader.hpp"

namespace baton {
namespace {

using secret::secrets_config;

constexpr long long year_ms = 365LL * 24 * 3600 * 1000;

void read_keks(checker& c, const YAML::Node& node, secrets_config& s) {
  if (!node.IsSequence()) {
    c.problem(node.Mark(), "secrets.keks must be a list");
    return;
  }
  for (const auto& item : node) {
    if (!c.expect_map(item, "a KEK", {"id", "file", "env", "encoding"})) continue;
    secret::kek_source k;
    c.read_string(item, "id", k.id, true);
    c.read_string(item, "file", k.file, true);
    c.read_string(item, "env", k.env, true);
    c.read_string(item, "encoding", k.encoding);
    if (k.id.empty()) c.problem(item.Mark(), "a KEK needs an id");
    if (k.file.empty() == k.env.empty())
      c.problem(item.Mark(), "KEK '" + k.id + "' needs exactly one of file or env");
    if (k.encoding != "hex" && k.encoding != "base64" && k.encoding != "raw")
      c.problem(item["encoding"].Mark(),
                "KEK encoding must be hex, base64 or raw, got '" + k.encoding + "'");
    for (const auto& other : s.keks)
      if (other.id == k.id) c.problem(item["id"].Mark(), "duplicate KEK id '" + k.id + "'");
    s.keks.push_back(std::move(k));
  }
}

void read_access(checker& c, const YAML::Node& node, secrets_config& s) {
  if (!node.IsSequence()) {
    c.problem(node.Mark(), "secrets.access must be a list");
    return;
  }
  for (const auto& item : node) {
    if (!c.expect_map(item, "a secret access rule", {"names", "users", "uids", "groups", "allow"}))
      continue;
    secret::secret_access_rule rule;
    rule.names = c.read_string_list(item, "names");
    if (rule.names.empty()) c.problem(item.Mark(), "a secret access rule needs names");
    for (std::size_t i = 0; i < rule.names.size(); ++i) {
      auto pattern = rule.names[i];
      if (!pattern.empty() && pattern.back() == '*') pattern.pop_back();
      if (!pattern.empty() && !is_secret_name(pattern, s.max_name_length))
        c.problem(item["names"][i].Mark(),
                  "'" + rule.names[i] + "' is not a secret name, or a prefix ending in *");
    }
    read_callers(c, item, rule.uids, rule.gids);
    if (rule.uids.empty() && rule.gids.empty())
      c.problem(item.Mark(), "a secret access rule needs users, uids or groups");
    auto verbs = c.read_string_list(item, "allow");
    if (verbs.empty())
      c.problem(item.Mark(), "a secret access rule needs allow: get, verify, admin");
    for (std::size_t i = 0; i < verbs.size(); ++i) {
      const auto& v = verbs[i];
      if (v == "get")
        rule.get = true;
      else if (v == "verify")
        rule.verify = true;
      else if (v == "admin")
        rule.admin = true;
      else if (v == "*")
        rule.get = rule.verify = rule.admin = true;
      else
        c.problem(item["allow"][i].Mark(),
                  "allow entries are get, verify, admin or *, got '" + v + "'");
    }
    s.access.push_back(std::move(rule));
  }
}

void read_items(checker& c, const YAML::Node& node, secrets_config& s) {
  if (!node.IsSequence()) {
    c.problem(node.Mark(), "secrets.items must be a list");
    return;
  }
  for (const auto& item : node) {
    if (!c.expect_map(item, "a secret",
                      {"name", "rotate_every_ms", "grace_ms", "generate_bytes", "encoding",
                       "generate_hook", "test_hook"}))
      continue;
    secret::secret_item i;
    c.read_string(item, "name", i.name, true);
    if (!item["name"])
      c.problem(item.Mark(), "a secret needs a name");
    else if (!is_secret_name(i.name, s.max_name_length))
      c.problem(item["name"].Mark(), "secret name '" + i.name + "' must be 1 to " +
                                         std::to_string(s.max_name_length) +
                                         " letters, digits, '-', '_', '.', '/' or ':'");
    if (s.item(i.name)) c.problem(item["name"].Mark(), "duplicate secret '" + i.name + "'");
    c.read_ms(item, "rotate_every_ms", 1000, 10 * year_ms, i.rotate_every);
    long long grace_ms = 0;
    if (c.read_int(item, "grace_ms", 0, year_ms, grace_ms)) i.grace = milliseconds(grace_ms);
    c.read_size(item, "generate_bytes", 16, 4096, i.generate_bytes);
    c.read_string(item, "encoding", i.encoding);
    if (i.encoding != "hex" && i.encoding != "base64")
      c.problem(item["encoding"].Mark(),
                "encoding must be hex or base64, got '" + i.encoding + "'");
    c.read_string(item, "generate_hook", i.generate_hook, true);
    c.read_string(item, "test_hook", i.test_hook, true);
    if (i.rotate_every.count() > 0 && i.grace && *i.grace >= i.rotate_every)
      c.problem(item.Mark(), "secret '" + i.name +
                                 "': grace_ms must be shorter than rotate_every_ms, or versions "
                                 "pile up waiting to retire");
    s.items.push_back(std::move(i));
  }
}

} // namespace

bool is_secret_name(const std::string& name, std::size_t max_length) {
  if (name.empty() || name.size() > max_length) return false;
  for (char ch : name)
    if (!std::isalnum(static_cast<unsigned char>(ch)) && ch != '-' && ch != '_' && ch != '.' &&
        ch != '/' && ch != ':')
      return false;
  return true;
}

void read_secrets(checker& c, const YAML::Node& node, secrets_config& s) {
  auto before = c.count();
  if (!c.expect_map(node, "secrets",
                    {"keks", "active_kek", "grace_ms", "max_value_bytes", "max_name_length",
                     "rotation_lease_ms", "hook_timeout_ms", "audit_max_entries", "audit_flush_ms",
                     "ack_liveness_ms", "refresh_ms", "allow_core_dumps", "cache_max_entries",
                     "access", "items"}))
    return;
  c.read_size(node, "max_name_length", 1, 1024, s.max_name_length);
  if (auto keks = node["keks"]) read_keks(c, keks, s);
  c.read_string(node, "active_kek", s.active_kek, true);
  c.read_ms(node, "grace_ms", 0, year_ms, s.grace);
  c.read_size(node, "max_value_bytes", 1, 1 << 20, s.max_value_bytes);
  c.read_ms(node, "rotation_lease_ms", 500, 3600 * 1000, s.rotation_lease);
  c.read_ms(node, "hook_timeout_ms", 100, 3600 * 1000, s.hook_timeout);
  c.read_size(node, "audit_max_entries", 100, 100000000, s.audit_max_entries);
  c.read_ms(node, "audit_flush_ms", 10, 60000, s.audit_flush);
  c.read_ms(node, "ack_liveness_ms", 1000, 3600 * 1000, s.ack_liveness);
  c.read_ms(node, "refresh_ms", 100, 600 * 1000, s.refresh);
  c.read_bool(node, "allow_core_dumps", s.allow_core_dumps);
  c.read_size(node, "cache_max_entries", 1, 10000000, s.cache_max_entries);
  if (auto access = node["access"]) read_access(c, access, s);
  if (auto items = node["items"]) read_items(c, items, s);
  // Scheduled items are read every refresh: fewer places than items would evict them in turn.
  if (s.cache_max_entries < s.items.size())
    c.problem(node.Mark(), "secrets.cache_max_entries (" + std::to_string(s.cache_max_entries) +
                               ") must be at least the number of items (" +
                               std::to_string(s.items.size()) + ")");
  if (s.hook_timeout >= s.rotation_lease)
    c.problem(node.Mark(), "secrets.hook_timeout_ms must be shorter than rotation_lease_ms");
  if (s.ack_liveness <= s.refresh)
    c.problem(node.Mark(), "secrets.ack_liveness_ms must be longer than refresh_ms");
  if (!s.keks.empty() && !s.active_kek.empty()) {
    bool listed = false;
    for (const auto& k : s.keks)
      listed = listed || k.id == s.active_kek;
    if (!listed)
      c.problem(node["active_kek"].Mark(), "active_kek '" + s.active_kek + "' is not a KEK listed");
  }
  if ((!s.items.empty() || !s.access.empty()) && s.keks.empty())
    c.problem(node.Mark(), "secrets need at least one KEK (secrets.keks)");
  if (c.count() == before) {
    // The KEKs must load now: a daemon that cannot decrypt should fail --check-config.
    secret::keyring probe;
    std::vector<std::string> problems;
    secret::load_keyring(s, probe, problems);
    for (const auto& p : problems)
      c.problem(node["keks"].Mark(), p);
  }
}

} // namespace baton
