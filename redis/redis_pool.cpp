// The link as services see it: one server's pool, or a Redis Cluster's pools routed by slot;
// see redis_pool.hpp.
#include "redis/redis_pool.hpp"

#include <algorithm>
#include <cctype>

#include "common/log.hpp"
#include "redis/redis_pool_rules.hpp"

namespace baton::redis_link {

using namespace cluster_rules;

namespace {

// The key a command's node is chosen by: args[1] for the commands the services send (HGETALL,
// ZRANGE...), none for those about the server (any primary answers), and the channel for
// PUBSUB NUMSUB, so that it is counted on the node the fleet's subscribers use.
std::optional<std::string_view> command_key(const std::vector<std::string>& args) {
  if (args.size() < 2) return std::nullopt;
  std::string name = args[0];
  for (auto& c : name)
    c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  if (name == "PUBSUB") {
    if (args.size() >= 3) return std::string_view(args[2]);
    return std::nullopt;
  }
  static const char* const about_the_server[] = {
      "PING",  "TIME", "INFO",   "CLUSTER",  "ROLE",    "WAIT",   "SCRIPT", "CLIENT",
      "HELLO", "ECHO", "DBSIZE", "LATENCY",  "SLOWLOG", "MEMORY", "CONFIG", "COMMAND",
      "SCAN",  "AUTH", "SELECT", "FLUSHALL", "FLUSHDB", "DEBUG",  "ASKING", "READONLY"};
  for (const char* s : about_the_server)
    if (name == s) return std::nullopt;
  return std::string_view(args[1]);
}

} // namespace

/// A call on a Cluster: what to send again if the cluster redirects it, and to whom to answer.
struct redis_pool::routed_call {
  bool script = false;
  std::string name;                  ///< the script's name
  std::vector<std::string> keys;     ///< the script's KEYS
  std::vector<std::string> args;     ///< the command, or the script's ARGV
  std::optional<std::uint16_t> slot; ///< none: any primary answers
  reply_callback done;
  clock::time_point deadline;
  std::optional<std::uint64_t> affinity;
  int redirects = 0;
  std::string last_refusal; ///< the TRYAGAIN or CLUSTERDOWN it is waiting out, if any
};

redis_pool::redis_pool(boost::asio::io_context& io, link_settings settings, link_counters& counters)
    : io_(io), settings_(std::move(settings)), counters_(counters), refresh_timer_(io) {
  if (!clustered()) {
    auto pool = std::make_unique<node_pool>(io_, settings_, counters_);
    single_ = pool.get();
    nodes_.emplace("", std::move(pool));
    return;
  }
  for (const auto& seed : settings_.cluster_seeds)
    node({seed.host, seed.port});
}

redis_pool::~redis_pool() {
  *alive_ = false;
  stop();
}

node_pool& redis_pool::node(const node_address& address) {
  auto key = address.text();
  auto it = nodes_.find(key);
  if (it != nodes_.end()) return *it->second;
  auto s = settings_;
  s.endpoint.host = address.host;
  s.endpoint.port = address.port;
  s.cluster_seeds.clear(); // the node's pool is one server's
  s.sentinels.clear();
  s.verify_master = false; // a replica answers MOVED: it never takes a keyed call
  s.cluster_node = true;
  auto pool = std::make_unique<node_pool>(io_, std::move(s), counters_);
  pool->on_breaker_change([this] { publish_breaker_state(); });
  // A broken connection may be a failed primary: the map says who serves its slots now. A
  // node that serves none (a departed one, still redialled until it is retired) asks nothing.
  pool->on_master_doubt([this, raw = pool.get()](const std::string& why) {
    if (primary_pools_.empty() ||
        std::find(primary_pools_.begin(), primary_pools_.end(), raw) != primary_pools_.end())
      refresh_map(why);
  });
  auto& out = *pool;
  nodes_.emplace(key, std::move(pool));
  if (started_ && !stopped_) out.start();
  return out;
}

void redis_pool::start() {
  started_ = true;
  for (auto& [key, pool] : nodes_)
    pool->start();
  if (clustered()) refresh_map("starting");
}

void redis_pool::stop() {
  if (stopped_) return;
  stopped_ = true;
  refresh_timer_.cancel();
  // Calls waiting out a TRYAGAIN or CLUSTERDOWN are answered now: their timers may never run.
  auto waiting = std::move(retries_);
  retries_.clear();
  for (auto& [id, w] : waiting) {
    w.timer->cancel();
    answer(w.call, redis_reply::unavailable("link stopped"));
  }
  for (auto& [key, pool] : nodes_)
    pool->stop();
}

void redis_pool::set_affinity(std::optional<std::uint64_t> key) {
  if (single_) return single_->set_affinity(key);
  affinity_ = key;
}

void redis_pool::set_call_timeout(milliseconds budget) {
  settings_.call_timeout = budget;
  for (auto& [key, pool] : nodes_)
    pool->set_call_timeout(budget);
}

void redis_pool::retarget(const redis_endpoint& master) {
  if (single_) single_->retarget(master);
}

void redis_pool::hold(bool held) {
  if (single_) single_->hold(held);
}

void redis_pool::on_master_doubt(std::function<void(const std::string&)> handler) {
  if (single_) single_->on_master_doubt(std::move(handler));
}

// -- calls ---------------------------------------------------------------------------------

void redis_pool::call(std::vector<std::string> args, reply_callback done) {
  if (single_) return single_->call(args, std::move(done));
  auto c = std::make_shared<routed_call>();
  if (auto key = command_key(args)) c->slot = key_slot(*key);
  c->args = std::move(args);
  c->done = std::move(done);
  c->deadline = clock::now() + settings_.call_timeout;
  c->affinity = affinity_;
  route(std::move(c), nullptr, false);
}

void redis_pool::run_script(std::string_view name, std::vector<std::string> keys,
                            std::vector<std::string> args, reply_callback done,
                            std::optional<milliseconds> budget) {
  if (single_) return single_->run_script(name, keys, args, std::move(done), budget);
  auto c = std::make_shared<routed_call>();
  c->script = true;
  c->name = std::string(name);
  if (!keys.empty()) c->slot = key_slot(keys.front());
  c->keys = std::move(keys);
  c->args = std::move(args);
  c->done = std::move(done);
  c->deadline = clock::now() + budget.value_or(settings_.call_timeout);
  c->affinity = affinity_;
  route(std::move(c), nullptr, false);
}

node_pool* redis_pool::any_primary() {
  node_pool* fallback = nullptr;
  for (const auto& p : primaries_) {
    auto& pool = node(p);
    if (pool.reachable()) return &pool;
    if (!fallback) fallback = &pool;
  }
  for (const auto& seed : settings_.cluster_seeds) {
    auto& pool = node({seed.host, seed.port});
    if (pool.reachable()) return &pool;
    if (!fallback) fallback = &pool;
  }
  return fallback; // none ready: the call waits in a pool's queue within its budget
}

void redis_pool::route(std::shared_ptr<routed_call> c, const node_address* to, bool asking) {
  if (stopped_) return c->done(redis_reply::unavailable("link stopped"));
  auto now = clock::now();
  if (now >= c->deadline) {
    counters_.add(counters_.timeouts);
    counters_.add(counters_.unavailable);
    // Never run: the nodes refused it, or it never left (a node answers for itself).
    return c->done(redis_reply::unavailable(
        c->last_refusal.empty()
            ? "redis cluster: no node answered within the time budget" +
                  (last_map_error_.empty() ? std::string() : " (slot map: " + last_map_error_ + ")")
            : "redis cluster refused it until the time budget ran out: " + c->last_refusal));
  }
  node_pool* pool = nullptr;
  if (to != nullptr)
    pool = &node(*to);
  else if (c->slot)
    pool = slot_pools_.empty() ? nullptr : slot_pools_[*c->slot];
  if (pool != nullptr) {
    if (!pool->reachable()) refresh_map("a primary is unreachable");
  } else {
    // No node known for the slot (the map not loaded yet, or a shard lost): any node
    // redirects a keyed call to the right one, and the map is asked for meanwhile.
    if (c->slot) refresh_map("no node known for a slot");
    pool = any_primary();
  }
  if (pool == nullptr) {
    counters_.add(counters_.unavailable);
    return answer(c, redis_reply::unavailable("redis cluster: no node known"));
  }
  auto budget = std::chrono::ceil<milliseconds>(c->deadline - now);
  auto asked = node_address{pool->endpoint().host, pool->endpoint().port};
  reply_callback next = [this, c, asked](redis_reply reply) {
    on_reply(c, asked, std::move(reply));
  };
  pool->set_affinity(c->affinity);
  if (c->script)
    pool->run_script(c->name, c->keys, c->args, std::move(next), budget, asking);
  else
    pool->call(c->args, std::move(next), budget, asking);
  pool->set_affinity(std::nullopt);
}

void redis_pool::on_reply(std::shared_ptr<routed_call> c, const node_address& asked,
                          redis_reply reply) {
  if (reply.kind == reply_kind::error && !stopped_) {
    // A redirect or a refusal: the node did not run the call, so sending it again is safe.
    if (auto redirect = parse_redirect(reply.str, asked.host)) {
      if (++c->redirects > max_redirects) {
        counters_.add(counters_.unavailable);
        return answer(c, redis_reply::unavailable("redis cluster: redirected " +
                                                  std::to_string(max_redirects) +
                                                  " times, last: " + reply.str));
      }
      if (redirect->ask) {
        counters_.add(counters_.cluster_asked);
        return route(std::move(c), &redirect->to, true);
      }
      counters_.add(counters_.cluster_moved);
      // This slot now; the whole map (and the handler of its changes) with the refresh.
      map_.assign(redirect->slot, redirect->to);
      map_updated(true);
      refresh_map("MOVED " + std::to_string(redirect->slot));
      return route(std::move(c), &redirect->to, false);
    }
    if (starts_with(reply.str, reroute_marker)) return route(std::move(c), nullptr, false);
    if (starts_with(reply.str, "TRYAGAIN")) {
      c->last_refusal = reply.str;
      return retry_later(std::move(c), tryagain_delay);
    }
    if (starts_with(reply.str, "CROSSSLOT")) {
      // Our own bug, never the caller's: every script's keys share a hash tag (lua/).
      std::string keys;
      for (const auto& k : c->script ? c->keys : c->args)
        keys += (keys.empty() ? "" : " ") + k;
      log::error("redis", "keys of one call in different cluster slots",
                 {{"call", c->script ? c->name : c->args.front()}, {"keys", keys}});
    }
    if (starts_with(reply.str, "CLUSTERDOWN")) {
      c->last_refusal = reply.str;
      refresh_map("CLUSTERDOWN");
      return retry_later(std::move(c), clusterdown_delay);
    }
  }
  if (stopped_ && reply.kind == reply_kind::error &&
      (parse_redirect(reply.str, asked.host) || starts_with(reply.str, reroute_marker) ||
       starts_with(reply.str, "TRYAGAIN") || starts_with(reply.str, "CLUSTERDOWN")))
    return answer(c, redis_reply::unavailable("link stopped"));
  answer(c, std::move(reply));
}

void redis_pool::answer(const std::shared_ptr<routed_call>& c, redis_reply reply) {
  // As its own client's: a call the caller makes from the reply keeps to the same connection
  // (see set_affinity), whichever path gave the answer (a node's reply, a timer, a refusal).
  auto outer = affinity_;
  affinity_ = c->affinity;
  c->done(std::move(reply));
  affinity_ = outer;
}

void redis_pool::retry_later(std::shared_ptr<routed_call> c, milliseconds delay) {
  counters_.add(counters_.cluster_retries);
  // A fresh attempt: during a migration, ASK then TRYAGAIN repeats until the keys have moved,
  // bounded by the budget, not by the redirect limit (which stops a map chasing its tail).
  c->redirects = 0;
  auto timer = std::make_shared<boost::asio::steady_timer>(io_);
  timer->expires_after(
      std::min<clock::duration>(delay, std::max<clock::duration>(c->deadline - clock::now(), {})));
  auto id = ++retry_sequence_;
  retries_.emplace(id, waiting_retry{timer, c});
  timer->async_wait([this, id, alive = alive_](const boost::system::error_code&) {
    if (!*alive) return;
    auto it = retries_.find(id);
    if (it == retries_.end()) return; // answered by stop()
    auto call = std::move(it->second.call);
    retries_.erase(it);
    route(std::move(call), nullptr, false);
  });
}

void redis_pool::publish_breaker_state() {
  // The worst of the primaries': one open breaker means a share of the keys is unreachable.
  auto worst = redis_breaker::state::closed;
  for (const auto* pool : primary_pools_) {
    auto s = pool->breaker_state();
    if (s == redis_breaker::state::open ||
        (s == redis_breaker::state::half_open && worst == redis_breaker::state::closed))
      worst = s;
  }
  counters_.breaker_state.store(static_cast<int>(worst), std::memory_order_relaxed);
}

bool redis_pool::reachable() const {
  if (single_) return single_->reachable();
  // Every slot has a primary, and every primary a ready connection: a cluster missing a shard
  // cannot serve the keys of its slots, and /readyz says so.
  if (primary_pools_.empty() || unserved_ > 0) return false;
  for (const auto* pool : primary_pools_)
    if (!pool->reachable()) return false;
  return true;
}

link_status redis_pool::status() const {
  if (single_) return single_->status();
  link_status s;
  s.breaker = redis_breaker::state::closed;
  auto primaries = primaries_;
  for (const auto& p : primaries) {
    auto it = nodes_.find(p.text());
    if (it == nodes_.end()) continue;
    auto one = it->second->status();
    s.connections += one.connections;
    s.ready += one.ready;
    if (one.breaker == redis_breaker::state::open ||
        (one.breaker == redis_breaker::state::half_open &&
         s.breaker == redis_breaker::state::closed))
      s.breaker = one.breaker;
    if (!it->second->reachable())
      s.last_error = p.text() + ": " + (one.last_error.empty() ? "not ready" : one.last_error);
  }
  if (primaries.empty() || unserved_ > 0) {
    s.complete = false;
    if (s.last_error.empty())
      s.last_error = last_map_error_.empty() ? "the slot map is not known yet" : last_map_error_;
  } else if (!reachable()) {
    s.complete = false;
  }
  s.endpoint = settings_.describe() + " (" + std::to_string(primaries.size()) + " primaries, " +
               std::to_string(unserved_) + " slots unserved)";
  return s;
}

} // namespace baton::redis_link
