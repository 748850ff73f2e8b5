// STATE commands; see state_commands.hpp.
#include "services/state/state_commands.hpp"

#include <algorithm>

#include "protocol/reply_writer.hpp"
#include "protocol/argument_numbers.hpp"
#include "services/state/state_service.hpp"

namespace baton {
namespace {

using protocol::command_id;
using protocol::reply_writer;
using protocol::result;
using state::state_callers;
using state::state_namespace;

bool names(const std::optional<state_callers>& callers, const peer_credentials& peer) {
  if (!callers) return true;
  return std::find(callers->uids.begin(), callers->uids.end(), peer.uid) != callers->uids.end() ||
         (peer.groups_known && std::any_of(callers->gids.begin(), callers->gids.end(),
                                           [&](gid_t g) { return peer.in_group(g); }));
}

bool is_write(command_id id) {
  switch (id) {
  case command_id::state_set:
  case command_id::state_del:
  case command_id::state_getdel:
  case command_id::state_mset:
  case command_id::state_mdel:
  case command_id::state_clear:
  case command_id::state_restore:
    return true;
  default:
    return false;
  }
}

/// Writers write and read; readers read. Unset lists leave it to the access rules; admins may.
/// GETDEL reads and writes: it needs both.
bool may(const state_namespace& ns, command_id id, const peer_credentials& peer, bool admin) {
  if (admin) return true;
  bool writer = ns.writers ? names(ns.writers, peer) : true;
  bool reader = names(ns.readers, peer) || (ns.writers && writer);
  if (id == command_id::state_getdel) return writer && reader;
  if (is_write(id)) return writer;
  return reader;
}

void write_entry(reply_writer& out, const state::maybe_entry& e) {
  if (!e) return out.null();
  out.map(3);
  out.bulk("value");
  out.bulk(e->value);
  out.bulk("version");
  out.integer(e->version);
  out.bulk("ttl_ms");
  out.integer(e->ttl_ms);
}

void write_entries(reply_writer& out, const std::vector<state::maybe_entry>& entries) {
  out.array(entries.size());
  for (const auto& e : entries)
    write_entry(out, e);
}

void write_first(reply_writer& out, const std::vector<state::maybe_entry>& entries) {
  write_entry(out, entries.at(0));
}

void write_version(reply_writer& out, const state::written& w) {
  out.integer(w.versions.at(0));
}

void write_versions(reply_writer& out, const state::written& w) {
  out.array(w.versions.size());
  for (auto v : w.versions)
    out.integer(v);
}

void write_tally(reply_writer& out, const state::tally& t) {
  out.integer(t.count);
}

void write_page(reply_writer& out, const state::scan_page& page) {
  out.array(2);
  out.bulk(page.cursor);
  out.array(page.keys.size());
  for (const auto& k : page.keys)
    out.bulk(k);
}

/// A version: a non-negative integer below 2^53, which the scripts' numbers (doubles) and
/// JavaScript's hold exactly. (Versions made by writes stay below it until the year 2255.)
bool parse_version(const std::string& text, std::int64_t& out) {
  return parse_non_negative(text, out) && out < (std::int64_t{1} << 53);
}

} // namespace

void run_state_command(const protocol::command_spec& spec, std::vector<std::string>& args,
                       client_connection& conn, daemon_context& ctx,
                       client_connection::reply_ticket ticket) {
  auto fail = [&](const std::string& text) { conn.fail(ticket, text); };
  const auto& limits = ctx.cfg.state;
  const auto* ns = limits.find(args[2]);
  if (!ns)
    return fail("ERR unknown state namespace '" + args[2] +
                "' (the namespaces are state.namespaces in the config)");
  if (!may(*ns, spec.id, conn.peer(), ctx.access.is_admin(conn.peer())))
    return conn.fail(ticket, protocol::error_code::noperm,
                     std::string("namespace '") + ns->name + "' is not yours to " +
                         (is_write(spec.id) ? "write" : "read") +
                         " (its readers and writers in state.namespaces)");
  auto bad_key = [&](const std::string& key) -> std::optional<std::string> {
    if (!key.empty() && key.size() <= limits.max_key_length) return std::nullopt;
    return "ERR a state key must be 1 to " + std::to_string(limits.max_key_length) +
           " bytes (state.max_key_length), got " + std::to_string(key.size());
  };
  auto bad_value = [&](const std::string& value) -> std::optional<std::string> {
    if (value.size() <= ns->max_value_bytes) return std::nullopt;
    return "ERR the value is " + std::to_string(value.size()) + " bytes; namespace '" + ns->name +
           "' takes at most " + std::to_string(ns->max_value_bytes) + " (max_value_bytes)";
  };
  auto too_many = [&](std::size_t n) -> std::optional<std::string> {
    if (n <= limits.max_batch_keys) return std::nullopt;
    return "ERR " + std::to_string(n) + " keys in one request; at most " +
           std::to_string(limits.max_batch_keys) + " (state.max_batch_keys)";
  };
  auto self = conn.shared_from_this(); // replies complete later; keep the connection alive
  auto& service = *ctx.state;

  switch (spec.id) {
  case command_id::state_get:
  case command_id::state_getdel: {
    if (auto e = bad_key(args[3])) return fail(*e);
    return service.read(*ns, {args[3]}, spec.id == command_id::state_getdel,
                        reply_with<std::vector<state::maybe_entry>>(self, ticket, write_first));
  }
  case command_id::state_mget: {
    std::vector<std::string> keys(args.begin() + 3, args.end());
    if (auto e = too_many(keys.size())) return fail(*e);
    for (const auto& k : keys)
      if (auto e = bad_key(k)) return fail(*e);
    return service.read(*ns, std::move(keys), false,
                        reply_with<std::vector<state::maybe_entry>>(self, ticket, write_entries));
  }
  case command_id::state_set: {
    if (auto e = bad_key(args[3])) return fail(*e);
    if (auto e = bad_value(args[4])) return fail(*e);
    auto ttl = ns->default_ttl;
    auto condition = state::write_condition::none;
    std::int64_t expected = 0;
    bool ttl_given = false;
    for (std::size_t i = 5; i < args.size(); ++i) {
      auto option = protocol::to_upper(args[i]);
      std::int64_t number = 0;
      if (option == "TTL" && i + 1 < args.size() && !ttl_given) {
        if (!parse_non_negative(args[++i], number) || number < 1 ||
            number > ns->max_ttl.count())
          return fail("ERR TTL must be 1 to " + std::to_string(ns->max_ttl.count()) +
                      " ms (the namespace's max_ttl_ms)");
        ttl = std::chrono::milliseconds(number);
        ttl_given = true;
      } else if (option == "IFABSENT" && condition == state::write_condition::none) {
        condition = state::write_condition::absent;
      } else if (option == "IFVERSION" && i + 1 < args.size() &&
                 condition == state::write_condition::none) {
        if (!parse_version(args[++i], expected))
          return fail("ERR IFVERSION takes a version, an integer from 0 (no entry) to 2^53-1");
        condition = state::write_condition::version;
      } else {
        return fail("ERR syntax error at '" + args[i] +
                    "': STATE SET ns key value [TTL ms] [IFABSENT | IFVERSION v]");
      }
    }
    std::vector<std::pair<std::string, std::string>> items;
    items.emplace_back(std::move(args[3]), std::move(args[4]));
    return service.write(*ns, std::move(items), condition, expected, ttl,
                         reply_with<state::written>(self, ticket, write_version));
  }
  case command_id::state_mset: {
    if ((args.size() - 3) % 2 != 0)
      return fail("ERR wrong number of arguments for 'state mset': key value pairs");
    auto pairs = (args.size() - 3) / 2;
    if (auto e = too_many(pairs)) return fail(*e);
    std::vector<std::pair<std::string, std::string>> items;
    items.reserve(pairs);
    for (std::size_t i = 3; i + 1 < args.size(); i += 2) {
      if (auto e = bad_key(args[i])) return fail(*e);
      if (auto e = bad_value(args[i + 1])) return fail(*e);
      items.emplace_back(std::move(args[i]), std::move(args[i + 1]));
    }
    auto first_of = [](const auto& a, const auto& b) { return a.first < b.first; };
    auto same = [](const auto& a, const auto& b) { return a.first == b.first; };
    auto sorted = items;
    std::sort(sorted.begin(), sorted.end(), first_of);
    if (std::adjacent_find(sorted.begin(), sorted.end(), same) != sorted.end())
      return fail("ERR a key is named twice in one STATE MSET");
    return service.write(*ns, std::move(items), state::write_condition::none, 0, ns->default_ttl,
                         reply_with<state::written>(self, ticket, write_versions));
  }
  case command_id::state_del: {
    if (auto e = bad_key(args[3])) return fail(*e);
    std::optional<std::int64_t> expected;
    if (args.size() == 6 && protocol::to_upper(args[4]) == "IFVERSION") {
      std::int64_t v = 0;
      if (!parse_version(args[5], v))
        return fail("ERR IFVERSION takes a version, an integer from 0 to 2^53-1");
      expected = v;
    } else if (args.size() != 4) {
      return fail("ERR syntax error: STATE DEL ns key [IFVERSION v]");
    }
    return service.remove(*ns, {args[3]}, expected,
                          reply_with<state::tally>(self, ticket, write_tally));
  }
  case command_id::state_mdel: {
    std::vector<std::string> keys(args.begin() + 3, args.end());
    if (auto e = too_many(keys.size())) return fail(*e);
    for (const auto& k : keys)
      if (auto e = bad_key(k)) return fail(*e);
    return service.remove(*ns, std::move(keys), std::nullopt,
                          reply_with<state::tally>(self, ticket, write_tally));
  }
  case command_id::state_exists:
    if (auto e = bad_key(args[3])) return fail(*e);
    return service.exists(*ns, args[3],
                          reply_with<bool>(self, ticket, [](reply_writer& out, bool present) {
                            out.integer(present ? 1 : 0);
                          }));
  case command_id::state_ttl:
    if (auto e = bad_key(args[3])) return fail(*e);
    return service.ttl(*ns, args[3],
                       reply_with<std::int64_t>(self, ticket, [](reply_writer& out,
                                                                 std::int64_t ms) {
                         out.integer(ms);
                       }));
  case command_id::state_scan: {
    // STATE SCAN ns [prefix] [CURSOR c] [COUNT n]: the options come in pairs, so an odd
    // number of arguments after the namespace starts with the prefix.
    std::size_t i = 3;
    std::string prefix;
    if ((args.size() - 3) % 2 == 1) prefix = args[i++];
    std::string cursor = "0";
    std::int64_t count = 100;
    for (; i + 1 < args.size(); i += 2) {
      auto option = protocol::to_upper(args[i]);
      if (option == "CURSOR") {
        cursor = args[i + 1];
      } else if (option == "COUNT") {
        if (!parse_non_negative(args[i + 1], count) || count < 1 ||
            static_cast<std::size_t>(count) > limits.max_scan_count)
          return fail("ERR COUNT must be 1 to " + std::to_string(limits.max_scan_count) +
                      " (state.max_scan_count)");
      } else {
        return fail("ERR syntax error at '" + args[i] +
                    "': STATE SCAN ns [prefix] [CURSOR c] [COUNT n]");
      }
    }
    if (prefix.size() > limits.max_key_length)
      return fail("ERR the prefix is longer than a key may be (state.max_key_length)");
    return service.scan(*ns, prefix, cursor, static_cast<std::size_t>(count),
                        reply_with<state::scan_page>(self, ticket, write_page));
  }
  case command_id::state_count:
    return service.count(*ns, reply_with<state::tally>(self, ticket, write_tally));
  case command_id::state_clear:
    return service.clear(*ns, reply_with<state::tally>(self, ticket, write_tally));
  case command_id::state_restore: {
    // STATE RESTORE ns key value version ttl_ms [key value version ttl_ms ...]
    if ((args.size() - 3) % 4 != 0)
      return fail("ERR wrong number of arguments for 'state restore': key value version "
                  "ttl_ms, per entry");
    if (auto e = too_many((args.size() - 3) / 4)) return fail(*e);
    std::vector<state::restore_item> items;
    for (std::size_t i = 3; i + 3 < args.size(); i += 4) {
      state::restore_item item;
      if (auto e = bad_key(args[i])) return fail(*e);
      if (auto e = bad_value(args[i + 1])) return fail(*e);
      if (!parse_version(args[i + 2], item.version) || item.version < 1)
        return fail("ERR a version is an integer from 1 to 2^53-1, got '" + args[i + 2] + "'");
      if (!parse_non_negative(args[i + 3], item.ttl_ms) || item.ttl_ms > ns->max_ttl.count())
        return fail("ERR ttl_ms must be 0 (no expiry) to " +
                    std::to_string(ns->max_ttl.count()) + ", got '" + args[i + 3] + "'");
      item.key = std::move(args[i]);
      item.value = std::move(args[i + 1]);
      items.push_back(std::move(item));
    }
    return service.restore(*ns, std::move(items),
                           reply_with<state::tally>(self, ticket, write_tally));
  }
  default:
    return fail("ERR internal error: not a state command");
  }
}

} // namespace baton
