// CACHE commands; see cache_commands.hpp.
#include "services/cache/cache_commands.hpp"

#include <algorithm>

#include "protocol/reply_writer.hpp"
#include "services/cache/cache_service.hpp"
#include "protocol/argument_numbers.hpp"

namespace baton {
namespace {

using protocol::command_id;
using protocol::reply_writer;

/// GET's map; the near-hit path writes it from the cache's own copy of the value.
void write_value(reply_writer& out, std::string_view value, std::int64_t ttl_ms, bool near,
                 bool degraded) {
  out.map(4);
  out.bulk("value");
  out.bulk(value);
  out.bulk("ttl_ms");
  out.integer(ttl_ms);
  out.bulk("source");
  out.bulk(near ? "near" : "redis");
  out.bulk("degraded");
  out.integer(degraded ? 1 : 0);
}

void write_cached(reply_writer& out, const std::optional<cache::cached>& c) {
  if (!c) return out.null();
  write_value(out, c->value, c->ttl_ms, c->near, c->degraded);
}

void write_stats(reply_writer& out, const std::vector<cache::namespace_stats>& all) {
  out.array(all.size());
  for (const auto& s : all) {
    auto gets = s.near.hits + s.redis_hits + s.redis_misses;
    out.map(11);
    out.bulk("namespace");
    out.bulk(s.name);
    out.bulk("near_hits");
    out.integer(static_cast<std::int64_t>(s.near.hits));
    out.bulk("redis_hits");
    out.integer(static_cast<std::int64_t>(s.redis_hits));
    out.bulk("misses");
    out.integer(static_cast<std::int64_t>(s.redis_misses));
    out.bulk("near_hit_ratio");
    out.floating(gets > 0 ? static_cast<double>(s.near.hits) / static_cast<double>(gets) : 0.0);
    out.bulk("evictions");
    out.integer(static_cast<std::int64_t>(s.near.evictions));
    out.bulk("invalidations");
    out.integer(static_cast<std::int64_t>(s.near.invalidations));
    out.bulk("fills_refused");
    out.integer(static_cast<std::int64_t>(s.near.fills_refused));
    out.bulk("entries");
    out.integer(static_cast<std::int64_t>(s.entries));
    out.bulk("bytes");
    out.integer(static_cast<std::int64_t>(s.bytes));
    out.bulk("max_bytes");
    out.integer(static_cast<std::int64_t>(s.max_bytes));
  }
}

} // namespace

void run_cache_command(const protocol::command_spec& spec, std::vector<std::string>& args,
                       client_connection& conn, daemon_context& ctx,
                       client_connection::reply_ticket ticket) {
  auto fail = [&](const std::string& text) { conn.fail(ticket, text); };
  const auto& limits = ctx.cfg.cache;
  auto& service = *ctx.cache;
  if (spec.id == command_id::cache_stats) {
    if (args.size() > 3) return fail("ERR syntax error: CACHE STATS [ns]");
    auto all = service.stats();
    if (args.size() == 3) {
      if (!limits.find(args[2]))
        return fail("ERR unknown cache namespace '" + args[2] + "' (cache.namespaces)");
      all.erase(std::remove_if(all.begin(), all.end(),
                               [&](const auto& s) { return s.name != args[2]; }),
                all.end());
    }
    std::string bytes;
    reply_writer out(bytes, ticket.protocol);
    write_stats(out, all);
    return conn.complete(ticket, std::move(bytes));
  }
  const auto* ns = limits.find(args[2]);
  if (!ns)
    return fail("ERR unknown cache namespace '" + args[2] +
                "' (the namespaces are cache.namespaces in the config)");
  auto bad_key = [&](const std::string& key) -> std::optional<std::string> {
    if (!key.empty() && key.size() <= limits.max_key_length) return std::nullopt;
    return "ERR a cache key must be 1 to " + std::to_string(limits.max_key_length) +
           " bytes (cache.max_key_length), got " + std::to_string(key.size());
  };
  auto self = conn.shared_from_this(); // replies complete later; keep the connection alive
  switch (spec.id) {
  case command_id::cache_get: {
    if (auto e = bad_key(args[3])) return fail(*e);
    // A near hit is written at once, without the callback's allocations.
    auto now = cache::clock::now();
    if (auto hit = service.near_hit_now(*ns, args[3], now)) {
      std::string bytes;
      reply_writer out(bytes, ticket.protocol);
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(hit->expires - now);
      write_value(out, *hit->value, std::max<std::int64_t>(0, left.count()), true, false);
      return conn.complete(ticket, std::move(bytes));
    }
    return service.read_through(
        *ns, args[3], reply_with<std::optional<cache::cached>>(self, ticket, write_cached));
  }
  case command_id::cache_set: {
    if (auto e = bad_key(args[3])) return fail(*e);
    if (args[4].size() > ns->max_value_bytes)
      return fail("ERR the value is " + std::to_string(args[4].size()) + " bytes; namespace '" +
                  ns->name + "' takes at most " + std::to_string(ns->max_value_bytes) +
                  " (max_value_bytes)");
    auto ttl = ns->ttl;
    if (args.size() == 7 && protocol::to_upper(args[5]) == "TTL") {
      std::int64_t ms = 0;
      if (!parse_non_negative(args[6], ms) || ms < 1 || ms > ns->max_ttl.count())
        return fail("ERR TTL must be 1 to " + std::to_string(ns->max_ttl.count()) +
                    " ms (the namespace's max_ttl_ms)");
      ttl = std::chrono::milliseconds(ms);
    } else if (args.size() != 5) {
      return fail("ERR syntax error: CACHE SET ns key value [TTL ms]");
    }
    return service.set(*ns, args[3], std::move(args[4]), ttl,
                       reply_with<cache::stored>(self, ticket, [](reply_writer& out,
                                                                  const cache::stored&) {
                         out.simple("OK");
                       }));
  }
  case command_id::cache_del:
  case command_id::cache_invalidate: {
    auto write_count = [](reply_writer& out, const cache::tally& t) { out.integer(t.count); };
    if (spec.id == command_id::cache_invalidate && protocol::to_upper(args[3]) == "PATTERN") {
      if (args.size() != 5)
        return fail("ERR syntax error: CACHE INVALIDATE ns PATTERN p takes one pattern (a key "
                    "named PATTERN is deleted with CACHE DEL)");
      if (args[4].empty() || args[4].size() > limits.max_key_length)
        return fail("ERR a pattern must be 1 to " + std::to_string(limits.max_key_length) +
                    " bytes");
      return service.remove_matching(*ns, args[4],
                                     reply_with<cache::tally>(self, ticket, write_count));
    }
    std::vector<std::string> keys(args.begin() + 3, args.end());
    if (keys.size() > limits.max_batch_keys)
      return fail("ERR " + std::to_string(keys.size()) + " keys in one request; at most " +
                  std::to_string(limits.max_batch_keys) + " (cache.max_batch_keys)");
    for (const auto& k : keys)
      if (auto e = bad_key(k)) return fail(*e);
    return service.remove(*ns, std::move(keys),
                          reply_with<cache::tally>(self, ticket, write_count));
  }
  default:
    return fail("ERR internal error: not a cache command");
  }
}

} // namespace baton
