// Leases as this daemon's clients see them; see lease_service.hpp.
#include "services/lease/lease_service.hpp"

#include <algorithm>
#include <cstdlib>
#include <memory>

#include <caf/send.hpp>

#include "common/log.hpp"
#include "model/lease/lease_keys.hpp"

namespace baton::lease {

using redis_link::redis_reply;
using redis_link::reply_kind;

namespace {

lease_outcome make(lease_outcome::kind what, std::string why = {}) {
  lease_outcome o;
  o.what = what;
  o.why = std::move(why);
  return o;
}

std::int64_t remaining_ms(clock::time_point until, clock::time_point now) {
  return std::chrono::duration_cast<milliseconds>(until - now).count();
}

// A reply that is not what our own script returns: Redis' error, or a bug.
lease_outcome unexpected(const redis_reply& reply) {
  if (reply.is_unavailable()) return make(lease_outcome::kind::unavailable, reply.str);
  return make(lease_outcome::kind::unavailable,
              "unexpected reply from redis: " + (reply.str.empty() ? "(no text)" : reply.str));
}

// lease_acquire's refusal and lease_info share a layout from `offset` on:
// state, owner, node, client, token, remaining_ms. The caller checked the size.
lease_holder holder_from(const redis_reply& r, std::size_t offset) {
  lease_holder h;
  h.state = r.elements[offset].str;
  h.owner = r.elements[offset + 1].str;
  h.node = r.elements[offset + 2].str;
  h.client = r.elements[offset + 3].str;
  h.token = r.elements[offset + 4].integer;
  h.remaining_ms = r.elements[offset + 5].integer;
  return h;
}

bool is_status_array(const redis_reply& r, std::size_t min_size) {
  return r.kind == reply_kind::array && r.elements.size() >= min_size &&
         r.elements[0].kind == reply_kind::integer;
}

} // namespace

std::string lease_service::check_ttl(milliseconds ttl) const {
  if (ttl >= settings_.min_ttl && ttl <= settings_.max_ttl) return {};
  return "ttl must be between " + std::to_string(settings_.min_ttl.count()) + " and " +
         std::to_string(settings_.max_ttl.count()) + " ms";
}

clock::time_point lease_service::safe_until(clock::time_point sent, milliseconds ttl,
                                            bool keep) const {
  auto until = sent + ttl - settings_.drift_margin;
  if (keep) until -= keep_notice(ttl);
  return until;
}

void lease_service::emit(const lease_event& event) const {
  if (event_sink_) event_sink_(event);
}

void lease_service::send_renew(const std::string& name, const std::string& owner,
                               std::int64_t token, milliseconds ttl,
                               redis_link::reply_callback done,
                               std::optional<milliseconds> budget) {
  redis_.run_script("lease_renew", {keys_for(settings_.prefix, name).lease},
                    {owner, std::to_string(token), std::to_string(ttl.count())}, std::move(done),
                    budget);
}

void lease_service::send_release(const std::string& name, const std::string& owner,
                                 std::int64_t token, redis_link::reply_callback done) {
  redis_.run_script("lease_release", {keys_for(settings_.prefix, name).lease},
                    {owner, std::to_string(token), events_channel(settings_.prefix), name},
                    std::move(done));
}

lease_service::lease_service(boost::asio::io_context& io, redis_link::redis_pool& redis,
                             lease_settings settings)
    : io_(io), redis_(redis), settings_(std::move(settings)), stop_wait_timer_(io),
      keep_timer_(io) {}

void lease_service::listen(redis_link::redis_subscriber& events) {
  events.subscribe(events_channel(settings_.prefix), [this](const std::string& payload) {
    // "released <name> <token>"; "retiring <name> <token> <ms>" (a stopping daemon's lease
    // ends sooner than its waiters heard: they ask again and learn when)
    if (payload.rfind("retiring ", 0) == 0) {
      auto rest = payload.substr(9);
      auto space = rest.find(' ');
      if (space != std::string::npos) wake(rest.substr(0, space));
      return;
    }
    if (payload.rfind("released ", 0) != 0) return;
    auto rest = payload.substr(9);
    auto space = rest.rfind(' ');
    if (space == std::string::npos) return;
    lease_event event;
    event.what = lease_event::kind::released;
    event.name = rest.substr(0, space);
    event.token = std::strtoll(rest.c_str() + space + 1, nullptr, 10);
    wake(event.name);
    emit(event);
  });
  // Releases announced while the event connection was down are lost: every waiter retries.
  events.on_resubscribed([this] {
    std::vector<std::string> names;
    for (const auto& [name, queue] : waiting_)
      names.push_back(name);
    for (const auto& name : names)
      wake(name);
  });
}

// -- WAIT: queued acquisitions, woken by releases, in arrival order per host ----------

void lease_service::enqueue_waiter(waiter w) {
  auto name = w.request.name;
  auto& queue = waiting_[name];
  if (!queue.timer) queue.timer = std::make_unique<boost::asio::steady_timer>(io_);
  queue.waiters.push_back(std::move(w));
  if (queue.waiters.size() == 1) try_head(name);
}

void lease_service::try_head(const std::string& name) {
  auto it = waiting_.find(name);
  if (it == waiting_.end() || it->second.trying) return;
  auto& queue = it->second;
  auto now = clock::now();
  // Waiters whose time is up get the last refusal they saw.
  while (!queue.waiters.empty() && queue.waiters.front().deadline <= now) {
    auto expired = std::move(queue.waiters.front());
    queue.waiters.pop_front();
    if (expired.last_denial.what == lease_outcome::kind::denied)
      expired.done(std::move(expired.last_denial));
    else
      expired.done(make(lease_outcome::kind::denied));
  }
  if (queue.waiters.empty()) {
    waiting_.erase(it);
    return;
  }
  queue.trying = true;
  attempt(queue.waiters.front().request, [this, name](lease_outcome o) {
    auto found = waiting_.find(name);
    if (found == waiting_.end() || found->second.waiters.empty()) return;
    auto& q = found->second;
    q.trying = false;
    if (o.what == lease_outcome::kind::denied) {
      auto& head = q.waiters.front();
      // Retry when the holder's time runs out (an expiry announces nothing), or earlier when
      // a release is announced, or give up at the deadline.
      auto retry_at = clock::now() + milliseconds(o.holder.remaining_ms) + milliseconds(1);
      head.last_denial = std::move(o);
      auto first_deadline = head.deadline;
      for (const auto& w : q.waiters)
        first_deadline = std::min(first_deadline, w.deadline);
      return schedule_retry(name, std::min(retry_at, first_deadline));
    }
    auto head = std::move(q.waiters.front());
    q.waiters.pop_front();
    head.done(std::move(o)); // granted, or a hard error such as UNAVAILABLE
    try_head(name);          // the next in line learns of the new holder at once
  });
}

void lease_service::schedule_retry(const std::string& name, clock::time_point when) {
  auto& queue = waiting_[name];
  auto generation = ++queue.timer_generation;
  queue.timer->expires_at(when);
  queue.timer->async_wait([this, name, generation](const boost::system::error_code& ec) {
    auto it = waiting_.find(name);
    if (ec || it == waiting_.end() || it->second.timer_generation != generation) return;
    try_head(name);
  });
}

void lease_service::wake(const std::string& name) {
  auto it = waiting_.find(name);
  if (it == waiting_.end()) return;
  ++it->second.timer_generation; // the pending retry is superseded
  try_head(name);
}

std::string lease_service::owner_for(std::uint64_t connection) const {
  return settings_.node_id + "/" + settings_.run_id + "/" + std::to_string(connection);
}

void lease_service::remember_token(const std::string& name, std::int64_t token) {
  // Bounded: the floor only guards against a Redis that lost its fence keys, and Redis TIME
  // already does most of that; forgetting old names costs nothing but that extra margin.
  if (token_floor_.size() > 100000) token_floor_.clear();
  auto& floor = token_floor_[name];
  floor = std::max(floor, token);
}

void lease_service::mark_lost(const std::string& name, std::int64_t token) {
  // Remembered so that the holder's next RENEW or RELEASE hears LOST, not NOTHELD. Bounded:
  // past the cap the oldest knowledge goes, and such a holder hears NOTHELD instead.
  if (lost_.size() > 100000) lost_.clear();
  lost_[name] = token;
  lease_event event;
  event.what = lease_event::kind::lost;
  event.name = name;
  event.token = token;
  event.node = settings_.node_id;
  if (auto it = held_.find(name); it != held_.end() && it->second.token == token) {
    event.connection = it->second.connection;
    event.meta = it->second.meta;
    event.ttl = it->second.ttl;
  }
  forget(name);
  emit(event);
}

bool lease_service::was_lost(const std::string& name, std::int64_t token) const {
  auto it = lost_.find(name);
  return it != lost_.end() && it->second == token;
}

void lease_service::forget(const std::string& name) {
  auto it = held_.find(name);
  if (it == held_.end()) return;
  auto connection = it->second.connection;
  if (it->second.keep && keeper_)
    caf::anon_send(keeper_, atoms::forget::value, name, it->second.token);
  held_.erase(it);
  auto c = by_connection_.find(connection);
  if (c == by_connection_.end()) return;
  auto& names = c->second;
  names.erase(std::remove(names.begin(), names.end(), name), names.end());
  if (names.empty()) by_connection_.erase(c);
}

void lease_service::acquire(acquire_request request, lease_callback done) {
  if (!request.wait) return attempt(std::move(request), std::move(done));
  waiter w;
  w.deadline = clock::now() + *request.wait;
  w.request = std::move(request);
  w.done = std::move(done);
  enqueue_waiter(std::move(w));
}

void lease_service::attempt(acquire_request request, lease_callback done) {
  if (auto problem = check_name(request.name, settings_.max_name_length); !problem.empty())
    return done(make(lease_outcome::kind::invalid, problem));
  if (auto problem = check_ttl(request.ttl); !problem.empty())
    return done(make(lease_outcome::kind::invalid, problem));
  auto now = clock::now();
  if (auto it = held_.find(request.name); it != held_.end()) {
    if (now >= it->second.valid_until) {
      mark_lost(request.name, it->second.token);
    } else if (it->second.connection != request.connection) {
      // Another client of this daemon holds it: answer without asking Redis.
      lease_outcome o = make(lease_outcome::kind::denied);
      o.holder.state = "held";
      o.holder.owner = it->second.owner;
      o.holder.node = settings_.node_id;
      o.holder.token = it->second.token;
      o.holder.remaining_ms = remaining_ms(it->second.valid_until, now);
      return done(std::move(o));
    }
  }
  auto keys = keys_for(settings_.prefix, request.name);
  auto owner = owner_for(request.connection);
  std::int64_t floor = 0;
  if (auto f = token_floor_.find(request.name); f != token_floor_.end()) floor = f->second;
  // Built before the call: the callback below takes `request` by move, and the order in which
  // a call's arguments are evaluated is unspecified.
  std::vector<std::string> args = {owner,
                                   std::to_string(request.ttl.count()),
                                   settings_.node_id,
                                   request.client,
                                   request.meta,
                                   std::to_string(settings_.lock_delay.count()),
                                   std::to_string(floor),
                                   watch_channel(settings_.prefix, request.name)};
  auto sent = clock::now();
  redis_.run_script(
      "lease_acquire", {keys.lease, keys.fence}, args,
      [this, request = std::move(request), owner, sent, done = std::move(done)](redis_reply reply) {
        if (!is_status_array(reply, 3)) return done(unexpected(reply));
        if (reply.elements[0].integer == 0) {
          if (reply.elements.size() < 7) return done(unexpected(reply));
          lease_outcome o = make(lease_outcome::kind::denied);
          o.holder = holder_from(reply, 1);
          remember_token(request.name, o.holder.token);
          return done(std::move(o));
        }
        auto token = reply.elements[1].integer;
        remember_token(request.name, token);
        // Safe validity counts from when the request was sent, not from when Redis granted it.
        auto valid_until = safe_until(sent, request.ttl, request.keep);
        auto replied = clock::now();
        if (valid_until <= replied) {
          release_quietly(request.name, owner, token);
          return done(make(lease_outcome::kind::unavailable,
                           "redis answered too late for the lease to be safely held; released it"));
        }
        forget(request.name); // a re-acquire by the same connection replaces its record
        held_lease h;
        h.owner = owner;
        h.meta = request.meta;
        h.token = token;
        h.connection = request.connection;
        h.ttl = request.ttl;
        h.keep = request.keep;
        h.valid_until = valid_until;
        held_[request.name] = h;
        by_connection_[request.connection].push_back(request.name);
        hand_to_keeper(request.name, h, sent);
        wake_at(h.valid_until);
        lease_outcome o = make(lease_outcome::kind::granted);
        o.token = token;
        o.validity = milliseconds(remaining_ms(valid_until, replied));
        done(std::move(o));
      });
}

void lease_service::renew(const std::string& name, std::int64_t token,
                          std::optional<milliseconds> ttl, lease_callback done) {
  if (auto problem = check_name(name, settings_.max_name_length); !problem.empty())
    return done(make(lease_outcome::kind::invalid, problem));
  auto it = held_.find(name);
  if (was_lost(name, token) && (it == held_.end() || it->second.token != token))
    return done(make(lease_outcome::kind::lost, "lease '" + name + "' under token " +
                                                    std::to_string(token) +
                                                    " was lost: its safe validity ended"));
  if (it == held_.end())
    return done(make(lease_outcome::kind::not_held,
                     "this node holds no lease '" + name + "' (never acquired, or released)"));
  if (it->second.token != token)
    return done(make(lease_outcome::kind::lost, "lease '" + name + "' is held under token " +
                                                    std::to_string(it->second.token) + " now"));
  auto now = clock::now();
  if (now >= it->second.valid_until) {
    mark_lost(name, token);
    return done(make(lease_outcome::kind::lost, "the safe validity of lease '" + name + "' ended"));
  }
  auto new_ttl = ttl.value_or(it->second.ttl);
  if (auto problem = check_ttl(new_ttl); !problem.empty())
    return done(make(lease_outcome::kind::invalid, problem));
  auto sent = clock::now();
  send_renew(name, it->second.owner, token, new_ttl,
             [this, name, token, new_ttl, sent, done = std::move(done)](redis_reply reply) {
               if (!is_status_array(reply, 2)) return done(unexpected(reply));
               auto entry = held_.find(name);
               if (reply.elements[0].integer == 0) {
                 if (entry != held_.end() && entry->second.token == token) mark_lost(name, token);
                 return done(make(lease_outcome::kind::lost,
                                  "lease '" + name + "' is lost: " + reply.elements[1].str));
               }
               auto keep = entry != held_.end() && entry->second.keep;
               auto valid_until = safe_until(sent, new_ttl, keep);
               if (entry != held_.end() && entry->second.token == token) {
                 entry->second.valid_until = valid_until;
                 entry->second.ttl = new_ttl;
                 hand_to_keeper(name, entry->second, sent);
                 wake_at(entry->second.valid_until);
               }
               lease_outcome o = make(lease_outcome::kind::granted);
               o.token = token;
               o.validity =
                   milliseconds(std::max<std::int64_t>(0, remaining_ms(valid_until, clock::now())));
               done(std::move(o));
             });
}

void lease_service::release(const std::string& name, std::int64_t token, lease_callback done) {
  if (auto problem = check_name(name, settings_.max_name_length); !problem.empty())
    return done(make(lease_outcome::kind::invalid, problem));
  auto it = held_.find(name);
  if (it == held_.end() || it->second.token != token) {
    if (was_lost(name, token))
      return done(make(lease_outcome::kind::lost, "lease '" + name + "' under token " +
                                                      std::to_string(token) + " was already lost"));
    return done(make(lease_outcome::kind::not_held, "this node holds no lease '" + name +
                                                        "' under token " + std::to_string(token)));
  }
  send_release(name, it->second.owner, token,
               [this, name, token, done = std::move(done)](redis_reply reply) {
                 if (!is_status_array(reply, 2)) return done(unexpected(reply));
                 auto entry = held_.find(name);
                 if (entry != held_.end() && entry->second.token == token) forget(name);
                 if (reply.elements[0].integer == 0)
                   return done(
                       make(lease_outcome::kind::lost,
                            "lease '" + name + "' was already lost: " + reply.elements[1].str));
                 done(make(lease_outcome::kind::released));
                 wake(name); // a waiter on this host need not wait for the announcement
               });
}

void lease_service::info(const std::string& name, lease_callback done) {
  if (auto problem = check_name(name, settings_.max_name_length); !problem.empty())
    return done(make(lease_outcome::kind::invalid, problem));
  auto keys = keys_for(settings_.prefix, name);
  redis_.run_script("lease_info", {keys.lease}, {}, [done = std::move(done)](redis_reply reply) {
    if (reply.kind != reply_kind::array) return done(unexpected(reply));
    lease_outcome o = make(lease_outcome::kind::info);
    if (reply.elements.size() >= 8) {
      o.holder = holder_from(reply, 0);
      o.holder.meta = reply.elements[6].str;
    }
    done(std::move(o));
  });
}

// -- LIST ------------------------------------------------------------------------

struct list_scan {
  std::string match;
  std::string key_prefix; ///< "<prefix>:lease:{"
  std::string cursor = "0";
  std::vector<std::string> names;
  std::size_t steps = 0;
  lease_callback done;
};

namespace {
constexpr std::size_t list_limit = 10000;
constexpr std::size_t list_max_steps = 2000;

std::string escape_glob(const std::string& text) {
  std::string out;
  for (char c : text) {
    if (c == '*' || c == '?' || c == '[' || c == ']' || c == '\\') out += '\\';
    out += c;
  }
  return out;
}
} // namespace

void lease_service::list(const std::string& pattern, lease_callback done) {
  if (pattern.size() > settings_.max_name_length)
    return done(make(lease_outcome::kind::invalid, "pattern is longer than the longest name"));
  for (char c : pattern)
    if (static_cast<unsigned char>(c) <= ' ' || c == '{' || c == '}')
      return done(make(lease_outcome::kind::invalid,
                       "pattern must not contain spaces, control characters or braces"));
  auto scan = std::make_shared<list_scan>();
  scan->key_prefix = settings_.prefix + ":lease:{";
  scan->match = escape_glob(scan->key_prefix) + pattern + "}";
  scan->done = std::move(done);
  scan_step(scan);
}

void lease_service::scan_step(std::shared_ptr<list_scan> scan) {
  redis_.call({"SCAN", scan->cursor, "MATCH", scan->match, "COUNT", "1000"},
              [this, scan](redis_reply reply) {
                if (reply.kind != reply_kind::array || reply.elements.size() != 2)
                  return scan->done(unexpected(reply));
                scan->cursor = reply.elements[0].str;
                for (const auto& key : reply.elements[1].elements) {
                  const auto& k = key.str;
                  if (k.size() > scan->key_prefix.size() + 1 && k.back() == '}')
                    scan->names.push_back(
                        k.substr(scan->key_prefix.size(), k.size() - scan->key_prefix.size() - 1));
                }
                if (scan->cursor != "0" && scan->names.size() < list_limit &&
                    ++scan->steps < list_max_steps)
                  return scan_step(scan);
                lease_outcome o = make(lease_outcome::kind::listing);
                o.names = std::move(scan->names);
                std::sort(o.names.begin(), o.names.end());
                o.names.erase(std::unique(o.names.begin(), o.names.end()), o.names.end());
                if (o.names.size() > list_limit) o.names.resize(list_limit);
                scan->done(std::move(o));
              });
}

std::optional<std::int64_t> lease_service::token_held_by(const std::string& name,
                                                         std::uint64_t connection) const {
  auto it = held_.find(name);
  if (it == held_.end() || it->second.connection != connection) return std::nullopt;
  return it->second.token;
}

void lease_service::connection_closed(std::uint64_t connection) {
  // Its waiters leave the queues (none of them may be granted a lease nobody would hold).
  for (auto& [name, queue] : waiting_) {
    auto& w = queue.waiters;
    // A head whose attempt is on its way stays: its callback sees the closed connection and
    // releases what it was granted (lease_commands.cpp).
    if (w.empty()) continue;
    auto first = queue.trying ? std::next(w.begin()) : w.begin();
    w.erase(std::remove_if(first, w.end(),
                           [&](const waiter& x) { return x.request.connection == connection; }),
            w.end());
  }
  auto c = by_connection_.find(connection);
  if (c == by_connection_.end()) return;
  auto names = c->second;
  for (const auto& name : names) {
    auto it = held_.find(name);
    if (it == held_.end()) continue;
    auto h = it->second;
    forget(name);
    // A client that closes gives its leases up; a connection the stopping daemon closes
    // does not: its holder may be using the lease right now (the chaos harness's lease
    // checker caught a clean stop letting a second client in within the first's validity).
    if (stopping_)
      retire_quietly(name, h);
    else
      release_quietly(name, h.owner, h.token);
  }
}

void lease_service::retire_all(std::function<void()> done) {
  stopping_ = true;
  if (!keeper_) return retire_now(std::move(done));
  // A renewal reaching Redis after the retire would lengthen the lease again: the keeper
  // stops first, and says so once no renewal of its is on its way (or, if the actors are
  // gone already, the wait ends after a while).
  after_keeper_stopped_ = [this, done = std::move(done)]() mutable {
    stop_wait_timer_.cancel();
    retire_now(std::move(done));
  };
  caf::anon_send(keeper_, atoms::stop_all::value);
  stop_wait_timer_.expires_after(std::chrono::seconds(2));
  stop_wait_timer_.async_wait([this](const boost::system::error_code& ec) {
    if (ec || !after_keeper_stopped_) return;
    log::warn("lease", "the lease keeper did not confirm it stopped; retiring anyway");
    auto then = std::move(after_keeper_stopped_);
    after_keeper_stopped_ = nullptr;
    then();
  });
}

void lease_service::retire_now(std::function<void()> done) {
  // Every held lease is retired, and `done` waits for those calls and for any already on
  // their way (a connection closed just before): the link must not stop under them.
  auto names = std::vector<std::string>();
  for (const auto& [name, h] : held_)
    names.push_back(name);
  for (const auto& name : names) {
    auto h = held_[name];
    forget(name);
    retire_quietly(name, h);
  }
  if (releases_in_flight_ == 0) return done();
  when_released_ = std::move(done);
}

void lease_service::retire_quietly(const std::string& name, const held_lease& h) {
  // The end the holder was promised, measured by Redis alone: a lease taken without KEEP keeps
  // its own end (valid_until, Redis time: at least what its holder was told); a KEEP lease,
  // whose holder learns of the loss only now (its connection closes), gets the notice it
  // would have had before a failed renewal. Never this daemon's clock: the chaos harness's
  // clock mix caught a daemon whose clock ran 10% fast retiring a lease before its holder's
  // validity ended. Nor a plain release when this clock says the lease ran out already.
  auto ms = h.keep ? keep_notice(h.ttl) : h.ttl;
  ++releases_in_flight_;
  redis_.run_script("lease_retire", {keys_for(settings_.prefix, name).lease},
                    {h.owner, std::to_string(h.token), std::to_string(ms.count()),
                     events_channel(settings_.prefix), name},
                    [this, name](redis_reply reply) {
                      if (reply.is_error())
                        log::warn("lease", "could not retire; it expires at its ttl",
                                  {{"lease", name}, {"reason", reply.str}});
                      if (--releases_in_flight_ == 0 && when_released_) {
                        auto done = std::move(when_released_);
                        when_released_ = nullptr;
                        done();
                      }
                    });
}

void lease_service::release_quietly(const std::string& name, const std::string& owner,
                                    std::int64_t token) {
  ++releases_in_flight_;
  send_release(name, owner, token, [this, name](redis_reply reply) {
    // If Redis cannot be reached the lease simply runs out at its TTL.
    if (reply.is_unavailable())
      log::warn("lease", "could not release; it expires at its ttl",
                {{"lease", name}, {"reason", reply.str}});
    wake(name);
    if (--releases_in_flight_ == 0 && when_released_) {
      auto done = std::move(when_released_);
      when_released_ = nullptr;
      done();
    }
  });
}

// -- KEEP renewal and local expiry ---------------------------------------------

void lease_service::wake_at(clock::time_point when) {
  // Only ever pulls the timer earlier: one lease changing must not cost a scan of all of them
  // (with 10,000 KEEP leases that made every renewal tick quadratic).
  if (keep_timer_armed_ && keep_timer_at_ <= when) return;
  keep_timer_armed_ = true;
  keep_timer_at_ = when;
  keep_timer_.expires_at(when);
  keep_timer_.async_wait([this, when](const boost::system::error_code& ec) {
    if (ec || when != keep_timer_at_) return; // re-armed earlier since
    keep_timer_armed_ = false;
    on_keep_timer();
  });
}

void lease_service::on_keep_timer() {
  // The safety net under the keeper's own verdicts, and the only one for leases without KEEP:
  // a lease whose safe validity ended is lost here, whoever noticed first.
  auto now = clock::now();
  std::vector<std::string> expired;
  auto next = clock::time_point::max();
  for (const auto& [name, h] : held_) {
    if (now >= h.valid_until)
      expired.push_back(name);
    else
      next = std::min(next, h.valid_until);
  }
  for (const auto& name : expired) {
    if (held_[name].keep)
      log::warn("lease", "kept lease lost: could not renew it within its safe validity",
                {{"lease", name}});
    mark_lost(name, held_[name].token);
  }
  if (next != clock::time_point::max()) wake_at(std::max(next, now + milliseconds(5)));
}

// -- the keeper (actors/lease_keeper) ------------------------------------------

void lease_service::hand_to_keeper(const std::string& name, const held_lease& h, clock::time_point sent) {
  if (!h.keep || !keeper_) return;
  kept_lease k{name, h.owner, h.token, h.ttl.count(),
               std::chrono::duration_cast<std::chrono::nanoseconds>(sent.time_since_epoch())
                   .count()};
  caf::anon_send(keeper_, atoms::keep::value, std::move(k));
}

void lease_service::on_keeper_news(const keeper_news& news) {
  if (news.what == keeper_news::kind::stopped) {
    if (auto then = std::move(after_keeper_stopped_)) {
      after_keeper_stopped_ = nullptr;
      then();
    }
    return;
  }
  auto it = held_.find(news.name);
  if (it == held_.end() || it->second.token != news.token) return; // released or replaced since
  if (news.what == keeper_news::kind::lost) return mark_lost(news.name, news.token);
  it->second.valid_until = news.safe_end;
  wake_at(it->second.valid_until);
}

} // namespace baton::lease
