// The pool of Redis connections; see node_pool.hpp.
#include "redis/node_pool.hpp"

#include "common/log.hpp"

namespace baton::redis_link {
namespace asio = boost::asio;

namespace {
// After a short WAIT, how long durable writes are refused (or sent without WAIT) before the
// next one probes with WAIT again.
constexpr milliseconds replica_probe_interval{1000};
} // namespace

const char* breaker_state_name(redis_breaker::state s) {
  switch (s) {
  case redis_breaker::state::closed:
    return "closed";
  case redis_breaker::state::open:
    return "open";
  default:
    return "half-open";
  }
}

node_pool::node_pool(asio::io_context& io, link_settings settings, link_counters& counters)
    : io_(io), settings_(std::move(settings)), counters_(counters),
      breaker_(settings_.breaker_failures, settings_.breaker_cooldown, settings_.reconnect_max),
      queue_timer_(io) {
  for (const auto& [name, s] : scripts_.all())
    settings_.preload_scripts.push_back(s.body);
  asking_command_ = format_command({"ASKING"});
  if (settings_.wait_replicas > 0)
    wait_command_ = format_command({"WAIT", std::to_string(settings_.wait_replicas),
                                    std::to_string(settings_.wait_timeout.count())});
  for (std::size_t i = 0; i < std::max<std::size_t>(settings_.connections, 1); ++i)
    connections_.push_back(std::make_shared<redis_connection>(io_, settings_, counters_, *this, i));
}

node_pool::~node_pool() {
  stop();
}

void node_pool::start() {
  for (auto& c : connections_)
    c->start();
}

void node_pool::stop() {
  if (stopped_) return;
  stopped_ = true;
  for (auto& c : connections_)
    c->stop();
  queue_timer_.cancel();
  auto orphans = std::move(queue_);
  queue_.clear();
  for (auto& q : orphans)
    q.done(redis_reply::unavailable("link stopped"));
}

void node_pool::call(const std::vector<std::string>& args, reply_callback done,
                     std::optional<milliseconds> budget, bool asking) {
  dispatch(format_command(args), std::move(done),
           clock::now() + budget.value_or(settings_.call_timeout), false, asking);
}

void node_pool::run_script(std::string_view name, const std::vector<std::string>& keys,
                           const std::vector<std::string>& args, reply_callback done,
                           std::optional<milliseconds> budget, bool asking) {
  const script* s = scripts_.find(name);
  if (s == nullptr) {
    // A typo in our own code, not bad input: fail loudly in tests, clearly in production.
    log::error("redis", "unknown script", {{"script", std::string(name)}});
    done(redis_reply::unavailable("internal error: no script named " + std::string(name)));
    return;
  }
  std::vector<std::string> argv;
  argv.reserve(3 + keys.size() + args.size());
  argv.push_back("EVALSHA");
  argv.push_back(s->sha1);
  argv.push_back(std::to_string(keys.size()));
  argv.insert(argv.end(), keys.begin(), keys.end());
  argv.insert(argv.end(), args.begin(), args.end());
  auto deadline = clock::now() + budget.value_or(settings_.call_timeout);
  auto formatted = format_command(argv);
  bool wait = s->durable && !wait_command_.empty();
  // On NOSCRIPT (Redis restarted, failed over, or SCRIPT FLUSH), send the body with EVAL,
  // which runs it and caches it again; the caller never sees the difference. The arguments
  // move into the callback: they are needed only in that rare case.
  auto retry = [this, s, argv = std::move(argv), deadline, done, wait,
                asking](redis_reply reply) mutable {
    if (reply.kind != reply_kind::error || reply.str.rfind("NOSCRIPT", 0) != 0)
      return done(std::move(reply));
    counters_.add(counters_.script_reloads);
    log::info("redis", "script not cached on redis, sending it again", {{"script", s->name}});
    argv[0] = "EVAL";
    argv[1] = s->body;
    dispatch(format_command(argv), std::move(done), deadline, wait, asking);
  };
  dispatch(std::move(formatted), std::move(retry), deadline, wait, asking);
}

void node_pool::dispatch(std::string formatted, reply_callback done, clock::time_point deadline,
                         bool wait, bool asking) {
  if (stopped_) return done(redis_reply::unavailable("link stopped"));
  if (affinity_) {
    // The client's next call may be made from this one's reply (a write after a read, the
    // EVAL after NOSCRIPT, an abandon after a timeout): it keeps to the same connection, so
    // that it runs in Redis after this one and in step with the client's later requests.
    done = [this, key = *affinity_, done = std::move(done)](redis_reply reply) {
      auto outer = affinity_;
      affinity_ = key;
      done(std::move(reply));
      affinity_ = outer;
    };
  }
  auto now = clock::now();
  if (!breaker_.allow(now)) {
    counters_.add(counters_.breaker_rejects);
    counters_.add(counters_.unavailable);
    return done(redis_reply::unavailable("redis unreachable (breaker open): " + last_error_));
  }
  publish_breaker_state();
  if (wait && now < replicas_missing_until_) {
    // The last WAIT came back short: replicas are missing. Until it is time to try again, a
    // durable write is refused before it is sent (wait_short: fail), or sent without WAIT
    // (accept), rather than each one blocking its connection, and the calls behind it, for
    // wait_timeout: a master without replicas stopped every daemon's calls so (chaos).
    counters_.add(counters_.waits_short);
    if (settings_.wait_required) {
      counters_.add(counters_.unavailable);
      return done(redis_reply::unavailable(
          "fewer than " + std::to_string(settings_.wait_replicas) +
          " replicas acknowledged the last durable write (redis.wait_replicas); durable writes "
          "are refused until they come back"));
    }
    wait = false;
  }
  if (auto* connection = pick_connection()) {
    // ASKING lets the next command on this connection, and only it, reach a slot being imported.
    if (asking) connection->send(asking_command_, [](redis_reply) {}, deadline);
    if (wait) return send_then_wait(*connection, std::move(formatted), std::move(done), deadline);
    connection->send(std::move(formatted), std::move(done), deadline);
    return;
  }
  // No connection is ready yet (starting, or reconnecting): wait within the budget.
  if (queue_.size() >= settings_.max_queued) {
    counters_.add(counters_.unavailable);
    return done(redis_reply::unavailable("too many calls waiting for a redis connection"));
  }
  queue_.push_back({std::move(formatted), std::move(done), deadline, wait, asking, affinity_});
  arm_queue_timer_at(deadline);
}

void node_pool::send_then_wait(redis_connection& connection, std::string formatted,
                                reply_callback done, clock::time_point deadline) {
  // WAIT covers every write this connection made before it, so it goes right behind the call
  // on the same connection, in the same pipeline. The call's reply is held until WAIT answers:
  // the app hears "granted" only once replicas have the grant. WAIT cannot undo a write: a
  // short count is answered as a reply that never came (wait_required), which every caller
  // already resolves, or passed on as it is (counted and logged). `min-replicas-to-write` on
  // the server is what refuses writes up front without replicas (NOREPLICAS: UNAVAILABLE).
  auto held = std::make_shared<std::optional<redis_reply>>();
  connection.send(
      std::move(formatted),
      [held, done](redis_reply reply) {
        // A call that failed wrote nothing to wait for: answer at once, and WAIT's reply
        // (still to come) is dropped.
        if (reply.is_error()) return done(std::move(reply));
        *held = std::move(reply);
      },
      deadline);
  counters_.add(counters_.waits);
  connection.send(
      wait_command_,
      [this, held, done](redis_reply acked) {
        if (!*held) return; // answered already (an error), or never answered (its own timeout)
        auto reply = std::move(**held);
        held->reset();
        bool is_short = acked.kind != reply_kind::integer ||
                        static_cast<std::size_t>(acked.integer) < settings_.wait_replicas;
        // One WAIT per second probes whether the replicas are back (see dispatch).
        replicas_missing_until_ =
            is_short ? clock::now() + replica_probe_interval : clock::time_point{};
        if (is_short) {
          counters_.add(counters_.waits_short);
          auto now = clock::now();
          if (now - last_short_wait_log_ >= std::chrono::seconds(10)) { // the counter has all
            last_short_wait_log_ = now;
            log::warn("redis", "a durable write reached fewer replicas than redis.wait_replicas",
                      {{"acked", acked.kind == reply_kind::integer ? std::to_string(acked.integer)
                                                                   : acked.str},
                       {"wanted", std::to_string(settings_.wait_replicas)}});
          }
          // The write is on the master only: the caller treats it as a reply that never came
          // (an acquire gives the grant back, an open closes its session, a PUT says UNKNOWN).
          if (settings_.wait_required)
            return done(redis_reply::unanswered(
                "the write reached " +
                (acked.kind == reply_kind::integer ? std::to_string(acked.integer) : "no") +
                " of " + std::to_string(settings_.wait_replicas) +
                " replicas in time (redis.wait_replicas); a failover may lose it"));
        }
        done(std::move(reply));
      },
      deadline + settings_.wait_timeout);
}

redis_connection* node_pool::pick_connection() {
  if (held_) return nullptr;
  std::size_t n = connections_.size();
  if (affinity_ && n > 0) {
    auto* c = connections_[*affinity_ % n].get();
    if (c->ready()) return c;
  }
  // The ready connection with the fewest calls in flight; ties go round-robin.
  redis_connection* best = nullptr;
  for (std::size_t k = 0; k < n; ++k) {
    auto* c = connections_[(next_ + k) % n].get();
    if (c->ready() && (best == nullptr || c->pending() < best->pending())) best = c;
  }
  next_ = (next_ + 1) % n;
  return best;
}

void node_pool::arm_queue_timer_at(clock::time_point wake) {
  // Only ever pulls the wake-up earlier, so a queued call costs O(1); expire_queue, which
  // walks the queue anyway, re-arms for the earliest budget left.
  if (queue_timer_armed_ && queue_wake_ <= wake) return;
  queue_timer_armed_ = true;
  queue_wake_ = wake;
  auto sequence = ++queue_sequence_;
  queue_timer_.expires_at(wake);
  queue_timer_.async_wait([this, sequence](const boost::system::error_code& ec) {
    if (sequence != queue_sequence_) return; // re-armed earlier since
    queue_timer_armed_ = false;
    if (!ec) expire_queue();
  });
}

void node_pool::expire_queue() {
  // From the front, in arrival order. A call behind one with a longer budget (a renewal has
  // until its lease lapses) waits for it to be answered or sent; expiring every call wherever
  // it waits made a breaker test flaky and is left for when it is understood.
  auto now = clock::now();
  while (!queue_.empty() && queue_.front().deadline <= now) {
    auto call = std::move(queue_.front());
    queue_.pop_front();
    counters_.add(counters_.timeouts);
    counters_.add(counters_.unavailable);
    call.done(redis_reply::unavailable(
        held_ ? "redis is failing over: no new master within the time budget"
        : settings_.uses_sentinel() && settings_.endpoint.host.empty()
            ? "no redis connection within the time budget: the sentinels have not named a "
              "master yet"
            : "no redis connection within the time budget: " + last_error_));
  }
  if (!queue_.empty()) arm_queue_timer_at(queue_.front().deadline);
}

bool node_pool::reachable() const {
  if (breaker_.current() == redis_breaker::state::open) return false;
  for (const auto& c : connections_)
    if (c->ready()) return true;
  return false;
}

link_status node_pool::status() const {
  link_status s;
  s.connections = connections_.size();
  for (const auto& c : connections_)
    if (c->ready()) ++s.ready;
  s.breaker = breaker_.current();
  s.last_error = last_error_;
  s.endpoint = settings_.endpoint.describe();
  if (settings_.uses_sentinel())
    s.endpoint = (settings_.endpoint.host.empty() ? std::string("(not known yet)")
                                                  : settings_.endpoint.describe()) +
                 " (master '" + settings_.master_name + "' by sentinel)";
  return s;
}

void node_pool::on_ready(std::size_t index) {
  log::info("redis", "connection ready",
            {{"connection", std::to_string(index)}, {"endpoint", settings_.endpoint.describe()}});
  breaker_.on_success();
  publish_breaker_state();
  // Hand waiting calls to the connection that just came up.
  send_queued();
}

void node_pool::retarget(const redis_endpoint& master) {
  settings_.endpoint = master;
  replicas_missing_until_ = {}; // the new master's replicas are asked afresh
  log::info("redis", "following the master", {{"endpoint", master.describe()}});
  // Moving is not an outage: the breaker stays closed while the connections redial, and
  // calls wait for them within their budgets instead of failing at once.
  // Held while they move: the answers of one connection's calls (an abandon after an unanswered
  // grant) must not go out on another that still points at the old master.
  retargeting_ = true;
  bool was_held = held_;
  held_ = true;
  for (auto& c : connections_)
    c->retarget(master);
  held_ = was_held;
  retargeting_ = false;
}

void node_pool::hold(bool held) {
  held_ = held;
  if (held_) return;
  send_queued();
}

void node_pool::send_queued() {
  // In arrival order, each on its own client's connection (affinity), so one client's
  // pipeline that waited stays in order.
  auto waiting = std::move(queue_);
  queue_.clear();
  auto outer = affinity_;
  for (auto& q : waiting) {
    affinity_ = q.affinity;
    dispatch(std::move(q.formatted), std::move(q.done), q.deadline, q.wait, q.asking);
  }
  affinity_ = outer;
}

void node_pool::give_back_queued(const std::string& text) {
  auto waiting = std::move(queue_);
  queue_.clear();
  for (auto& q : waiting) {
    redis_reply r;
    r.kind = reply_kind::error;
    r.str = text;
    q.done(std::move(r));
  }
}

void node_pool::on_wrong_role(std::size_t, const std::string& why) {
  log::warn("redis", "server is not the master", {{"why", why}});
  if (master_doubt_) master_doubt_(why);
}

void node_pool::on_down(std::size_t, const std::string& reason) {
  last_error_ = reason;
  if (master_doubt_ && !stopped_) master_doubt_(reason);
  bool any_ready = false;
  for (const auto& c : connections_)
    any_ready = any_ready || c->ready();
  if (!any_ready && !stopped_ && !retargeting_) breaker_.trip(clock::now());
  publish_breaker_state();
}

void node_pool::on_success() {
  breaker_.on_success();
  publish_breaker_state();
}

void node_pool::on_failure() {
  breaker_.on_failure(clock::now());
  publish_breaker_state();
}

void node_pool::publish_breaker_state() {
  if (breaker_changed_) {
    // Only changes: this runs after every reply.
    auto now = breaker_.current();
    if (now == last_published_) return;
    last_published_ = now;
    return breaker_changed_();
  }
  counters_.breaker_state.store(static_cast<int>(breaker_.current()), std::memory_order_relaxed);
}

} // namespace baton::redis_link
