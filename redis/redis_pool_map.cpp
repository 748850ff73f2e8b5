// The Cluster's slot map as redis_pool keeps it: asking for it (CLUSTER SLOTS), what follows
// a change (queued calls rerouted, departed nodes retired, the handler told), and scans over
// every primary; part of redis_pool (see redis_pool.hpp).
#include <algorithm>
#include <charconv>
#include <cstdio>

#include "common/log.hpp"
#include "redis/redis_pool.hpp"
#include "redis/redis_pool_rules.hpp"

namespace baton::redis_link {

using namespace cluster_rules;

struct scan_state {
  std::vector<node_pool*> nodes;
  std::uint64_t version = 0; ///< routes_version_ when the scan of these nodes began
  int restarts = 0;
  std::size_t next = 0;
  std::string cursor = "0";
  std::string match;
  std::function<bool(std::vector<std::string>&)> batch;
  std::function<void(std::optional<std::string>)> done;
};

// -- scans ---------------------------------------------------------------------------------

void redis_pool::scan(std::string match, std::function<bool(std::vector<std::string>&)> batch,
                      std::function<void(std::optional<std::string>)> done) {
  auto state = std::make_shared<scan_state>();
  if (single_) {
    state->nodes.push_back(single_);
  } else {
    for (const auto& p : primaries_)
      state->nodes.push_back(&node(p));
    if (state->nodes.empty() || unserved_ > 0)
      return done("redis cluster: the slot map is not complete (" + std::to_string(unserved_) +
                  " slots without a primary)");
  }
  state->match = std::move(match);
  state->batch = std::move(batch);
  state->done = std::move(done);
  state->version = routes_version_;
  scan_node(std::move(state));
}

void redis_pool::scan_node(std::shared_ptr<scan_state> state) {
  if (state->next >= state->nodes.size() || state->version != routes_version_) {
    if (state->version == routes_version_) return state->done(std::nullopt);
    // A slot moved during the scan, maybe from a node not yet scanned to one already
    // scanned: its keys would be missed (SECRET REWRAP would miss secrets). Scan again: the
    // callers take a key twice (SCAN's own rule).
    if (single_ || ++state->restarts > max_scan_restarts)
      return state->done("redis cluster: the slot map kept changing during the scan");
    state->nodes.clear();
    for (const auto& p : primaries_)
      state->nodes.push_back(&node(p));
    state->next = 0;
    state->cursor = "0";
    state->version = routes_version_;
    if (state->nodes.empty() || unserved_ > 0)
      return state->done("redis cluster: the slot map is not complete");
  }
  auto* pool = state->nodes[state->next];
  pool->call({"SCAN", state->cursor, "MATCH", state->match, "COUNT", "1000"},
             [this, state, pool](redis_reply reply) {
               if (reply.kind == reply_kind::error && starts_with(reply.str, reroute_marker)) {
                 // It waited at a node that left the map: scan the new map from the start.
                 state->version = routes_version_ - 1;
                 return scan_node(state);
               }
               if (reply.kind != reply_kind::array || reply.elements.size() != 2)
                 return state->done(pool->endpoint().describe() + ": " +
                                    (reply.is_error() ? reply.str : "SCAN answered no list"));
               std::vector<std::string> keys;
               keys.reserve(reply.elements[1].elements.size());
               for (auto& k : reply.elements[1].elements)
                 keys.push_back(std::move(k.str));
               if (!state->batch(keys)) return state->done(std::nullopt);
               state->cursor = reply.elements[0].str;
               if (state->cursor == "0") ++state->next;
               scan_node(state);
             });
}

// -- scans driven by a client --------------------------------------------------------------

namespace {

bool all_digits(std::string_view text) {
  return !text.empty() && text.size() <= 20 &&
         std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; });
}

} // namespace

std::vector<node_pool*> redis_pool::scan_layout(std::string& tag) {
  auto sorted = primaries_;
  std::sort(sorted.begin(), sorted.end(), [](const node_address& a, const node_address& b) {
    return a.host != b.host ? a.host < b.host : a.port < b.port;
  });
  // FNV-1a over the primaries' addresses and each slot's primary (its place in that order).
  std::uint64_t hash = 14695981039346656037ULL;
  auto mix = [&hash](std::string_view bytes) {
    for (unsigned char b : bytes) {
      hash ^= b;
      hash *= 1099511628211ULL;
    }
  };
  std::vector<node_pool*> pools;
  for (const auto& p : sorted) {
    mix(p.text());
    mix(",");
    pools.push_back(&node(p));
  }
  for (std::size_t slot = 0; slot < cluster_slots; ++slot) {
    const auto* owner = map_.owner(static_cast<std::uint16_t>(slot));
    auto at = owner ? std::find(sorted.begin(), sorted.end(), *owner) - sorted.begin() : 255;
    char byte = static_cast<char>(at);
    mix(std::string_view(&byte, 1));
  }
  char text[17];
  std::snprintf(text, sizeof text, "%016llx", static_cast<unsigned long long>(hash));
  tag = text;
  return pools;
}

void redis_pool::scan_page(const std::string& cursor, std::string match, std::size_t count,
                           std::function<void(scan_page_result)> done) {
  using status = scan_page_result::status;
  auto refuse = [&done](status s, std::string why) {
    scan_page_result r;
    r.outcome = s;
    r.error = std::move(why);
    done(std::move(r));
  };
  node_pool* pool = single_;
  std::string redis_cursor = cursor;
  std::size_t at = 0;
  std::string tag;
  std::vector<node_pool*> pools;
  if (single_) {
    if (!all_digits(cursor)) return refuse(status::bad_cursor, "not a cursor: '" + cursor + "'");
  } else {
    if (unserved_ > 0)
      return refuse(status::failed, "redis cluster: the slot map is not complete (" +
                                        std::to_string(unserved_) + " slots without a primary)");
    pools = scan_layout(tag);
    if (cursor != "0") {
      // "<primary>.<its cursor>.<layout tag>"
      auto first = cursor.find('.');
      auto second = first == std::string::npos ? first : cursor.find('.', first + 1);
      if (second == std::string::npos || !all_digits(cursor.substr(0, first)) ||
          !all_digits(cursor.substr(first + 1, second - first - 1)) ||
          cursor.size() - second - 1 != 16)
        return refuse(status::bad_cursor, "not a cursor: '" + cursor + "'");
      if (cursor.substr(second + 1) != tag)
        return refuse(status::stale_cursor,
                      "the cluster's slots moved since this scan began: scan again from 0");
      // The primary's place: a few digits (all_digits allows 20, past what std::size_t holds).
      auto place = std::string_view(cursor).substr(0, first);
      auto [end, ec] = std::from_chars(place.data(), place.data() + place.size(), at);
      if (ec != std::errc() || end != place.data() + place.size() || at >= pools.size())
        return refuse(status::bad_cursor, "not a cursor: '" + cursor + "'");
      redis_cursor = cursor.substr(first + 1, second - first - 1);
    }
    pool = pools[at];
  }
  pool->call({"SCAN", redis_cursor, "MATCH", std::move(match), "COUNT", std::to_string(count)},
             [single = single_ != nullptr, at, total = pools.size(), tag = std::move(tag),
              done = std::move(done)](redis_reply reply) {
               scan_page_result r;
               if (reply.kind == reply_kind::error && starts_with(reply.str, reroute_marker)) {
                 r.outcome = status::stale_cursor; // it waited at a node that left the map
                 r.error = "the cluster's slots moved during this scan: scan again from 0";
                 return done(std::move(r));
               }
               if (reply.kind != reply_kind::array || reply.elements.size() != 2) {
                 r.outcome = status::failed;
                 r.unavailable = reply.is_unavailable();
                 r.error = reply.is_error() ? reply.str : "SCAN answered no list";
                 return done(std::move(r));
               }
               for (auto& k : reply.elements[1].elements)
                 r.keys.push_back(std::move(k.str));
               const auto& next = reply.elements[0].str;
               if (single)
                 r.cursor = next;
               else if (next != "0")
                 r.cursor = std::to_string(at) + "." + next + "." + tag;
               else if (at + 1 < total)
                 r.cursor = std::to_string(at + 1) + ".0." + tag;
               done(std::move(r));
             });
}

// -- the slot map --------------------------------------------------------------------------

std::optional<redis_endpoint> redis_pool::endpoint_for(std::string_view key) const {
  if (single_) return single_->endpoint();
  const auto* owner = map_.owner(key_slot(key));
  if (owner == nullptr) return std::nullopt;
  auto out = settings_.endpoint;
  out.host = owner->host;
  out.port = owner->port;
  return out;
}

void redis_pool::refresh_map(const std::string& why) {
  if (!clustered() || stopped_ || !started_) return;
  if (refreshing_) {
    refresh_again_ = true;
    return;
  }
  auto now = clock::now();
  if (last_refresh_ != clock::time_point{} && now - last_refresh_ < min_refresh_gap) {
    arm_refresh_timer(std::chrono::ceil<milliseconds>(min_refresh_gap - (now - last_refresh_)));
    return;
  }
  refreshing_ = true;
  last_refresh_ = now;
  log::debug("redis", "asking the cluster for its slot map", {{"why", why}});
  // The primaries first (reachable ones before the rest), then the seeds the config names.
  std::vector<node_address> candidates;
  auto add = [&](const node_address& a) {
    if (std::find(candidates.begin(), candidates.end(), a) == candidates.end())
      candidates.push_back(a);
  };
  for (const auto& p : primaries_)
    if (node(p).reachable()) add(p);
  for (const auto& p : primaries_)
    add(p);
  for (const auto& seed : settings_.cluster_seeds)
    add({seed.host, seed.port});
  ask_for_map(std::move(candidates), 0);
}

void redis_pool::ask_for_map(std::vector<node_address> candidates, std::size_t next) {
  if (stopped_) return;
  if (next >= candidates.size()) {
    refreshing_ = false;
    log::warn("redis", "no cluster node answered CLUSTER SLOTS", {{"last", last_map_error_}});
    arm_refresh_timer(refresh_again_ ? min_refresh_gap
                                     : std::min(outage_refresh, settings_.cluster_refresh));
    refresh_again_ = false;
    return;
  }
  auto address = candidates[next];
  auto budget = std::max(settings_.call_timeout, settings_.connect_timeout);
  node(address).call(
      {"CLUSTER", "SLOTS"},
      [this, candidates = std::move(candidates), next, address,
       alive = alive_](redis_reply reply) mutable {
        if (!*alive || stopped_) return;
        cluster_map loaded;
        std::string error;
        if (!loaded.load(reply, address.host, error) || loaded.empty()) {
          last_map_error_ = address.text() + ": " + (error.empty() ? "no slots served" : error);
          return ask_for_map(std::move(candidates), next + 1);
        }
        last_map_error_.clear();
        bool changed = !loaded.same_routes(map_);
        map_ = std::move(loaded);
        map_updated(changed); // a pool for each primary, started at once
        const auto& primaries = primaries_;
        counters_.cluster_primaries.store(static_cast<std::int64_t>(primaries.size()),
                                          std::memory_order_relaxed);
        refreshing_ = false;
        if (changed) {
          counters_.add(counters_.cluster_maps);
          log::info("redis", "cluster slot map",
                    {{"primaries", std::to_string(primaries.size())},
                     {"unserved_slots", std::to_string(unserved_)},
                     {"from", address.text()}});
        }
        // Calls waiting for a node that serves no slot now (a failed primary) go to the slots'
        // new owners at once, rather than at the end of their budgets.
        for (auto& [key, pool] : nodes_)
          if (std::find(primary_pools_.begin(), primary_pools_.end(), pool.get()) ==
              primary_pools_.end())
            pool->give_back_queued(reroute_marker);
        retire_departed();
        // Changes since the handler last heard, MOVEDs included.
        if (changed || routes_version_ != announced_version_) {
          bool primary_left = false;
          for (const auto& p : announced_primaries_)
            primary_left =
                primary_left || std::find(primaries.begin(), primaries.end(), p) == primaries.end();
          announced_primaries_ = primaries;
          announced_version_ = routes_version_;
          if (map_changed_) map_changed_(primary_left);
        }
        publish_breaker_state();
        bool outage = false;
        for (const auto& p : primaries)
          outage = outage || !node(p).reachable();
        arm_refresh_timer(refresh_again_ ? min_refresh_gap
                          : outage       ? std::min(outage_refresh, settings_.cluster_refresh)
                                         : settings_.cluster_refresh);
        refresh_again_ = false;
      },
      budget);
}

void redis_pool::arm_refresh_timer(milliseconds delay) {
  refresh_timer_.expires_after(delay);
  refresh_timer_.async_wait([this, alive = alive_](const boost::system::error_code& ec) {
    if (ec || !*alive) return;
    refresh_map("periodic");
  });
}

void redis_pool::retire_departed() {
  // A node the cluster no longer names (removed, or a pod that came back under another
  // address) would be redialled forever: after two refreshes without it, its pool stops.
  for (auto it = nodes_.begin(); it != nodes_.end();) {
    const auto& key = it->first;
    bool named = std::any_of(map_.known().begin(), map_.known().end(),
                             [&](const node_address& n) { return n.text() == key; }) ||
                 std::any_of(settings_.cluster_seeds.begin(), settings_.cluster_seeds.end(),
                             [&](const redis_endpoint& e) {
                               return node_address{e.host, e.port}.text() == key;
                             });
    if (named) {
      absent_refreshes_.erase(key);
      ++it;
      continue;
    }
    if (++absent_refreshes_[key] < 2) {
      ++it;
      continue;
    }
    log::info("redis", "a node left the cluster: its connections close", {{"node", key}});
    absent_refreshes_.erase(key);
    it->second->give_back_queued(reroute_marker);
    it->second->stop();
    retired_.push_back(std::move(it->second));
    it = nodes_.erase(it);
  }
}

// -- health --------------------------------------------------------------------------------

void redis_pool::map_updated(bool routes_changed) {
  // Kept, not computed per call: the request path asks reachable() on every SECRET GET and
  // BREAKER CHECK, and a pool reports its breaker after every reply.
  if (routes_changed) ++routes_version_;
  primaries_ = map_.primaries();
  unserved_ = map_.unserved();
  primary_pools_.clear();
  for (const auto& p : primaries_)
    primary_pools_.push_back(&node(p));
  slot_pools_.assign(cluster_slots, nullptr);
  const node_address* last = nullptr; // slots come in ranges: one lookup per range
  node_pool* last_pool = nullptr;
  for (std::size_t slot = 0; slot < cluster_slots; ++slot) {
    const auto* owner = map_.owner(static_cast<std::uint16_t>(slot));
    if (owner != last) {
      last = owner;
      last_pool = owner ? &node(*owner) : nullptr;
    }
    slot_pools_[slot] = last_pool;
  }
}

} // namespace baton::redis_link
