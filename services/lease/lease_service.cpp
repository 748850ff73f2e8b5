// Leases as this daemon's clients see them; see lease_service.hpp. WAIT queues are in
// lease_wait.cpp, LIST in lease_list.cpp, the clean stop in lease_stop.cpp.
#include "services/lease/lease_service.hpp"

#include <algorithm>
#include <cstdlib>
#include <memory>

#include <caf/send.hpp>

#include "common/log.hpp"
#include "model/lease/drift.hpp"
#include "model/lease/lease_keys.hpp"
#include "model/lease/token_floor.hpp"
#include "redis/idempotent_call.hpp"
#include "services/lease/lease_outcomes.hpp"
#include "services/unanswered.hpp"

namespace baton::lease {

using redis_link::redis_reply;
using redis_link::reply_kind;

std::string lease_service::check_ttl(milliseconds ttl) const {
  if (ttl >= settings_.min_ttl && ttl <= settings_.max_ttl) return {};
  return "ttl must be between " + std::to_string(settings_.min_ttl.count()) + " and " +
         std::to_string(settings_.max_ttl.count()) + " ms";
}

clock::time_point lease_service::safe_until(clock::time_point sent, milliseconds ttl,
                                            bool keep) const {
  auto until = sent + ttl - drift_margin_for(ttl, settings_.drift_margin, settings_.drift_fraction);
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
    : cleanups_(io, redis), io_(io), redis_(redis), settings_(std::move(settings)),
      floor_file_(settings_.floor_file), floor_timer_(io), stop_wait_timer_(io), keep_timer_(io) {
  std::string problem;
  highest_token_ = persisted_token_ = floor_file_.load(problem);
  if (!problem.empty())
    log::warn("lease", problem + "; fencing tokens are floored by this host's clock only");
}

lease_service::~lease_service() {
  persist_floor(true);
}

std::string lease_service::owner_for(std::uint64_t connection) const {
  return settings_.node_id + "/" + settings_.run_id + "/" + std::to_string(connection);
}

void lease_service::remember_token(std::int64_t token) {
  if (token <= highest_token_) return;
  highest_token_ = token;
  if (floor_timer_armed_ || settings_.floor_file.empty()) return;
  // At most one write a second, off the request's path. A daemon killed within that second
  // and restarted with its clock behind relies on the fence keys Redis kept (see
  // model/lease/token_floor.hpp for what it takes to lose both).
  floor_timer_armed_ = true;
  floor_timer_.expires_after(std::chrono::seconds(1));
  floor_timer_.async_wait([this](const boost::system::error_code& ec) {
    floor_timer_armed_ = false;
    if (!ec) persist_floor(false);
  });
}

void lease_service::persist_floor(bool durable) {
  if (highest_token_ <= persisted_token_ && !(durable && !persisted_durably_)) return;
  std::string problem;
  if (floor_file_.save(highest_token_, problem, durable)) {
    persisted_durably_ = durable;
    if (floor_save_failing_) log::info("lease", "the token floor is written again");
    floor_save_failing_ = false;
    persisted_token_ = highest_token_;
    return;
  }
  // Logged once per stretch of failures; the next grant tries again.
  if (!floor_save_failing_)
    log::warn("lease", problem + "; the token floor is kept in memory only");
  floor_save_failing_ = true;
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
  if (auto it = held_.find(name); it != held_.end() && it->second.token == token) {
    event.node = settings_.node_id; // with the uid: watchers of other uids are not told it
    event.connection = it->second.connection;
    event.meta = it->second.meta;
    event.uid = it->second.uid;
    event.ttl = it->second.ttl;
    // The keeper gives it back: a renewal it sent may still land and hold the name for
    // another TTL under a token nobody holds any more.
    if (it->second.keep && keeper_)
      caf::anon_send(keeper_, atoms::abandon::value, name, token);
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

void lease_service::acquire(acquire_request request, lease_callback<lease_grant> done) {
  if (!request.wait) return attempt(std::move(request), std::move(done));
  waiter w;
  w.deadline = clock::now() + *request.wait;
  w.request = std::move(request);
  w.done = std::move(done);
  enqueue_waiter(std::move(w));
}

void lease_service::attempt(acquire_request request, lease_callback<lease_grant> done) {
  if (auto problem = check_name(request.name, settings_.max_name_length); !problem.empty())
    return done(fail(error_code::err, problem));
  if (auto problem = check_ttl(request.ttl); !problem.empty())
    return done(fail(error_code::err, problem));
  auto now = clock::now();
  if (auto it = held_.find(request.name); it != held_.end()) {
    if (now >= it->second.valid_until) {
      mark_lost(request.name, it->second.token);
    } else if (it->second.connection != request.connection) {
      // Another client of this daemon holds it: answer without asking Redis.
      lease_holder holder;
      holder.state = "held";
      holder.owner = it->second.owner;
      holder.node = settings_.node_id;
      holder.client = it->second.client;
      holder.uid = it->second.uid;
      holder.token = it->second.token;
      holder.remaining_ms = remaining_ms(it->second.valid_until, now);
      return done(denied(request.name, holder, request.who));
    }
  }
  auto keys = keys_for(settings_.prefix, request.name);
  auto owner = owner_for(request.connection);
  auto floor = grant_floor(highest_token_, std::chrono::system_clock::now());
  // Built before the call: the callback below takes `request` by move, and the order in which
  // a call's arguments are evaluated is unspecified.
  std::vector<std::string> args = {owner,
                                   std::to_string(request.ttl.count()),
                                   settings_.node_id,
                                   request.client,
                                   request.meta,
                                   std::to_string(settings_.lock_delay.count()),
                                   std::to_string(floor),
                                   watch_channel(settings_.prefix, request.name),
                                   std::to_string(++request_sequence_),
                                   watch_publish(settings_.sharded_watch)};
  const auto& request_id = args[8];
  // So is the abandon mark's key: built inside the call, it once read a moved-from name
  // ("{}" for a tag), so a mark written for an abandoned request was looked for elsewhere (and
  // on a Cluster, every ACQUIRE failed with CROSSSLOT).
  std::vector<std::string> script_keys = {
      keys.lease, keys.fence, abandoned_key(settings_.prefix, request.name, owner, request_id)};
  auto sent = clock::now();
  redis_.run_script(
      "lease_acquire", script_keys, args,
      [this, request = std::move(request), owner, request_id, sent,
       done = std::move(done)](redis_reply reply) {
        // No answer in time: Redis may have granted it or not. Resolve that before answering.
        if (reply.is_unavailable())
          return resolve_unanswered(request, owner, request_id, reply, done);
        if (!is_status_array(reply, 3)) return done(unexpected(reply));
        if (reply.elements[0].integer == 0) {
          if (reply.elements.size() < 7) return done(unexpected(reply));
          auto holder = holder_from(reply, 1);
          remember_token(holder.token);
          return done(denied(request.name, holder, request.who));
        }
        auto token = reply.elements[1].integer;
        remember_token(token);
        if (was_lost(request.name, token)) {
          // The same connection got back a lease this daemon declared lost (a renewal sent
          // before the verdict landed after it): the keeper's give-back of that token may be
          // on its way and would delete it under its new holder. Released here; a new ACQUIRE
          // gets a new token.
          release_quietly(request.name, owner, token);
          return done(fail(error_code::unavailable,
                           "lease '" + request.name + "' was lost under token " +
                               std::to_string(token) +
                               " and Redis still held it; released it: acquire it again"));
        }
        // Safe validity counts from when the request was sent, not from when Redis granted it.
        auto valid_until = safe_until(sent, request.ttl, request.keep);
        auto replied = clock::now();
        if (valid_until <= replied) {
          release_quietly(request.name, owner, token);
          return done(fail(error_code::unavailable,
                           "redis answered too late for the lease to be safely held; released it"));
        }
        forget(request.name); // a re-acquire by the same connection replaces its record
        held_lease h;
        h.owner = owner;
        h.meta = request.meta;
        h.token = token;
        h.connection = request.connection;
        h.uid = request.who.uid;
        h.client = request.client;
        h.ttl = request.ttl;
        h.keep = request.keep;
        h.valid_until = valid_until;
        held_[request.name] = h;
        by_connection_[request.connection].push_back(request.name);
        hand_to_keeper(request.name, h, sent);
        wake_at(h.valid_until);
        done(lease_grant{token, milliseconds(remaining_ms(valid_until, replied))});
      });
}

std::optional<protocol::failure> lease_service::refuse_other_uid(const std::string& name,
                                                                 const held_lease& h,
                                                                 const caller& who,
                                                                 bool force) const {
  if (who.owns(h.uid) || (force && who.admin)) return std::nullopt;
  return fail(error_code::noperm,
              "lease '" + name +
                  "' is held by another user; only its holder's uid may renew or "
                  "release it" +
                  (who.admin ? " (an admin may release it with FORCE)" : ""));
}

void lease_service::renew(const std::string& name, std::int64_t token,
                          std::optional<milliseconds> ttl, const caller& who,
                          lease_callback<lease_grant> done) {
  if (auto problem = check_name(name, settings_.max_name_length); !problem.empty())
    return done(fail(error_code::err, problem));
  auto it = held_.find(name);
  if (was_lost(name, token) && (it == held_.end() || it->second.token != token))
    return done(fail(error_code::lost, "lease '" + name + "' under token " + std::to_string(token) +
                                           " was lost: its safe validity ended"));
  if (it == held_.end())
    return done(fail(error_code::notheld,
                     "this node holds no lease '" + name + "' (never acquired, or released)"));
  if (auto refused = refuse_other_uid(name, it->second, who, false))
    return done(std::move(*refused));
  if (it->second.token != token)
    return done(fail(error_code::lost, "lease '" + name + "' is held under token " +
                                           std::to_string(it->second.token) + " now"));
  auto now = clock::now();
  if (now >= it->second.valid_until) {
    mark_lost(name, token);
    return done(fail(error_code::lost, "the safe validity of lease '" + name + "' ended"));
  }
  auto new_ttl = ttl.value_or(it->second.ttl);
  if (auto problem = check_ttl(new_ttl); !problem.empty())
    return done(fail(error_code::err, problem));
  auto sent = clock::now();
  send_renew(name, it->second.owner, token, new_ttl,
             [this, name, token, new_ttl, sent, done = std::move(done)](redis_reply reply) {
               auto entry = held_.find(name);
               if (reply.is_unavailable() && entry != held_.end() && entry->second.token == token) {
                 // Not ambiguous where it matters: Redis never shortens a lease, so whatever
                 // the renewal did, the lease is the caller's until its earlier end.
                 auto left = remaining_ms(entry->second.valid_until, clock::now());
                 return done(fail(error_code::unavailable,
                                  "redis did not answer in time (" + reply.str +
                                      "); the lease is still yours under token " +
                                      std::to_string(token) + " for " + std::to_string(left) +
                                      " ms, as before this RENEW; renew again"));
               }
               if (!is_status_array(reply, 2)) return done(unexpected(reply));
               if (reply.elements[0].integer == 0) {
                 if (entry != held_.end() && entry->second.token == token) mark_lost(name, token);
                 return done(fail(error_code::lost,
                                  "lease '" + name + "' is lost: " + reply.elements[1].str));
               }
               auto keep = entry != held_.end() && entry->second.keep;
               auto valid_until = safe_until(sent, new_ttl, keep);
               if (entry != held_.end() && entry->second.token == token) {
                 // Redis never shortens a lease (lua/lease_renew.lua): the later end holds.
                 entry->second.valid_until = std::max(entry->second.valid_until, valid_until);
                 entry->second.ttl = new_ttl;
                 hand_to_keeper(name, entry->second, sent);
                 wake_at(entry->second.valid_until);
               }
               done(lease_grant{token, milliseconds(std::max<std::int64_t>(
                                           0, remaining_ms(valid_until, clock::now())))});
             });
}

void lease_service::release(const std::string& name, std::int64_t token, const caller& who,
                            bool force, std::uint64_t connection, lease_callback<released> done) {
  if (auto problem = check_name(name, settings_.max_name_length); !problem.empty())
    return done(fail(error_code::err, problem));
  auto it = held_.find(name);
  // Checked before the token: a token shown by a DENIED must not tell another app anything.
  if (it != held_.end())
    if (auto refused = refuse_other_uid(name, it->second, who, force))
      return done(std::move(*refused));
  if (it == held_.end() || it->second.token != token) {
    if (was_lost(name, token))
      return done(fail(error_code::lost, "lease '" + name + "' under token " +
                                             std::to_string(token) + " was already lost"));
    return done(fail(error_code::notheld, "this node holds no lease '" + name + "' under token " +
                                              std::to_string(token)));
  }
  // Released by another connection than the holder's (an admin's FORCE, a pooled connection
  // of the same app): the holder hears `lost`, as when its lease lapses, and does not go on
  // believing it holds a lease someone else may take now.
  bool holder_elsewhere = it->second.connection != connection;
  // Idempotent (by owner and token): a lost answer is asked once more, then UNKNOWN.
  redis_link::run_idempotent(
      redis_, "lease_release", {keys_for(settings_.prefix, name).lease},
      {it->second.owner, std::to_string(token), events_channel(settings_.prefix), name},
      [this, name, token, holder_elsewhere, done = std::move(done)](redis_reply reply,
                                                                    bool retried) {
        if (reply.is_unavailable())
          return done(unanswered(reply,
                                 "the lease may be released or not: do not use it any more, and "
                                 "RELEASE again (OK or LOST: released)"));
        if (!is_status_array(reply, 2)) return done(unexpected(reply));
        // Not held on the second try: the first released it (its answer was lost)
        // or it had lapsed; either way it is released, which is what was asked.
        bool released_now = reply.elements[0].integer != 0 || retried;
        auto entry = held_.find(name);
        if (entry != held_.end() && entry->second.token == token) {
          if (holder_elsewhere)
            mark_lost(name, token);
          else
            forget(name);
        }
        if (!released_now)
          return done(fail(error_code::lost,
                           "lease '" + name + "' was already lost: " + reply.elements[1].str));
        done(released{});
        wake(name); // a waiter on this host need not wait for the announcement
      });
}

void lease_service::info(const std::string& name, const caller& who,
                         lease_callback<lease_info> done) {
  if (auto problem = check_name(name, settings_.max_name_length); !problem.empty())
    return done(fail(error_code::err, problem));
  auto keys = keys_for(settings_.prefix, name);
  redis_.run_script("lease_info", {keys.lease}, {},
                    [who, done = std::move(done)](redis_reply reply) {
                      if (reply.kind != reply_kind::array) return done(unexpected(reply));
                      lease_info info;
                      // A free lease has no holder (lua/lease_info.lua answers an empty array).
                      if (reply.elements.size() >= 8 && !reply.elements[0].str.empty()) {
                        auto holder = holder_from(reply, 0);
                        holder.meta = reply.elements[6].str;
                        info.holder = holder.as_seen_by(who);
                      }
                      done(std::move(info));
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

void lease_service::hand_to_keeper(const std::string& name, const held_lease& h,
                                   clock::time_point sent) {
  if (!h.keep || !keeper_) return;
  kept_lease k{
      name, h.owner, h.token, h.ttl.count(),
      std::chrono::duration_cast<std::chrono::nanoseconds>(sent.time_since_epoch()).count()};
  caf::anon_send(keeper_, atoms::keep::value, std::move(k));
}

void lease_service::on_keeper_news(const keeper_news& news) {
  if (news.what == keeper_news::kind::stopped) return keeper_has_stopped();
  auto it = held_.find(news.name);
  if (it == held_.end() || it->second.token != news.token) return; // released or replaced since
  if (news.what == keeper_news::kind::lost) return mark_lost(news.name, news.token);
  it->second.valid_until = std::max(it->second.valid_until, news.safe_end);
  wake_at(it->second.valid_until);
}

void lease_service::master_moved() {
  if (keeper_) caf::anon_send(keeper_, atoms::check_all::value);
}

} // namespace baton::lease
