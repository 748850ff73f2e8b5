// Following watched leases; see lease_watch.hpp.
#include "services/lease/lease_watch.hpp"

#include <algorithm>
#include <cstdlib>

#include "model/lease/grant_announcement.hpp"
#include "model/lease/lease_keys.hpp"

namespace baton::lease {

using redis_link::redis_reply;
using redis_link::reply_kind;
using std::chrono::milliseconds;

namespace {
/// How long to wait before reading a lease again when Redis did not answer.
constexpr milliseconds retry_after{500};
/// Past the holder's expected end, so that the read finds it ended.
constexpr milliseconds past_end{2};
} // namespace

lease_watch::lease_watch(boost::asio::io_context& io, redis_link::redis_pool& redis,
                         redis_link::shard_channels& events, std::string prefix)
    : io_(io), redis_(redis), events_(events), prefix_(std::move(prefix)) {}

lease_watch::~lease_watch() {
  for (const auto& [name, f] : names_)
    events_.unsubscribe(watch_channel(prefix_, name));
}

void lease_watch::watch(const std::string& name) {
  auto& f = names_[name];
  if (++f.watchers > 1) return;
  f.generation = f.followed_since = ++next_generation_;
  f.timer = std::make_unique<boost::asio::steady_timer>(io_);
  events_.subscribe(
      watch_channel(prefix_, name),
      [this, name](const std::string& payload) { on_message(name, payload); },
      [this, name] { on_subscribed(name); });
}

void lease_watch::unwatch(const std::string& name) {
  auto it = names_.find(name);
  if (it == names_.end() || --it->second.watchers > 0) return;
  events_.unsubscribe(watch_channel(prefix_, name));
  names_.erase(it); // its timer's wait ends with operation_aborted
}

void lease_watch::when_followed(const std::string& name, std::function<void()> done) {
  auto it = names_.find(name);
  if (it == names_.end() || it->second.synced) return done();
  it->second.waiting.push_back(std::move(done));
}

known_holder lease_watch::known(const std::string& name) const {
  auto it = names_.find(name);
  return it == names_.end() ? known_holder{} : it->second.holder;
}

void lease_watch::on_subscribed(const std::string& name) {
  auto it = names_.find(name);
  if (it == names_.end()) return;
  it->second.synced = false; // messages may have been missed while the connection was down
  check(name);
}

void lease_watch::check(const std::string& name) {
  auto it = names_.find(name);
  if (it == names_.end()) return;
  auto generation = it->second.generation;
  redis_.run_script(
      "lease_info", {keys_for(prefix_, name).lease}, {},
      [this, name, generation](redis_reply reply) { reconcile(name, generation, reply); });
}

void lease_watch::reconcile(const std::string& name, std::uint64_t generation,
                            const redis_reply& reply) {
  auto it = names_.find(name);
  if (it == names_.end()) return;
  auto& f = it->second;
  if (generation < f.followed_since) return; // a read from before an unwatch and a new watch
  if (reply.kind != reply_kind::array) return check_at(name, retry_after);
  // An event arrived while the read was on its way: the read may be older than the event,
  // and the event already says what changed (and armed the check of its end).
  if (generation == f.generation) {
    bool held = reply.elements.size() >= 8 && reply.elements[0].str == "held";
    std::int64_t token = held ? reply.elements[4].integer : 0;
    auto remaining = milliseconds(held ? reply.elements[5].integer : 0);
    if (!f.ever_synced) {
      // The first read adopts whoever holds it: watching starts from here, nothing changed.
      if (held) {
        f.holder = {token, reply.elements[2].str, reply.elements[6].str,
                    uid_in_description(reply.elements[3].str)};
        check_at(name, remaining + past_end);
      }
    } else if (held && token == f.holder.token) {
      check_at(name, remaining + past_end); // renewed since: look again at its new end
    } else {
      if (f.holder.token != 0) ended(f, name, lease_event::kind::expired, f.holder.token);
      if (held && token > f.last_ended)
        granted(f, name, token,
                {token, reply.elements[2].str, reply.elements[6].str,
                 uid_in_description(reply.elements[3].str)},
                remaining);
    }
  }
  f.ever_synced = true;
  f.synced = true;
  auto waiting = std::move(f.waiting);
  f.waiting.clear();
  for (auto& done : waiting)
    done();
}

void lease_watch::on_message(const std::string& name, const std::string& payload) {
  auto it = names_.find(name);
  if (it == names_.end()) return;
  auto& f = it->second;
  auto grant = parse_grant_announcement(payload);
  if (!grant) return;
  if (grant->holder.token <= f.last_ended || grant->holder.token <= f.holder.token)
    return; // already known
  // A new holder while the old one was never seen to go: the old one's time ran out.
  if (f.holder.token != 0) ended(f, name, lease_event::kind::expired, f.holder.token);
  granted(f, name, grant->holder.token, std::move(grant->holder), grant->ttl);
}

void lease_watch::observe(const lease_event& event) {
  auto it = names_.find(event.name);
  if (it == names_.end()) return;
  auto& f = it->second;
  if (event.what == lease_event::kind::lost) {
    // A holder this watch had not heard of yet (its grant's announcement is still on the
    // way): it was acquired first, whatever order the news arrives in.
    if (event.token > f.holder.token && event.token > f.last_ended) {
      if (f.holder.token != 0) ended(f, event.name, lease_event::kind::expired, f.holder.token);
      granted(f, event.name, event.token, {event.token, event.node, event.meta, event.uid},
              event.ttl);
    }
    return report(event); // Redis may still hold it: its end comes as expired or released
  }
  if (event.what != lease_event::kind::released) return;
  if (event.token <= f.last_ended || event.token < f.holder.token) return; // already reported
  ended(f, event.name, lease_event::kind::released, event.token);
}

void lease_watch::granted(followed& f, const std::string& name, std::int64_t token,
                          known_holder holder, milliseconds ttl) {
  f.holder = std::move(holder);
  f.generation = ++next_generation_;
  lease_event event;
  event.what = lease_event::kind::acquired;
  event.name = name;
  event.token = token;
  event.node = f.holder.node;
  event.meta = f.holder.meta;
  event.uid = f.holder.uid;
  event.ttl = ttl;
  report(event);
  check_at(name, ttl + past_end);
}

void lease_watch::ended(followed& f, const std::string& name, lease_event::kind how,
                        std::int64_t token) {
  lease_event event;
  event.what = how;
  event.name = name;
  event.token = token;
  if (token == f.holder.token) {
    event.node = f.holder.node;
    event.meta = f.holder.meta;
    event.uid = f.holder.uid;
  }
  f.last_ended = std::max(f.last_ended, token);
  f.holder = {};
  f.generation = ++next_generation_;
  f.timer->cancel();
  report(event);
}

void lease_watch::check_at(const std::string& name, milliseconds from_now) {
  auto it = names_.find(name);
  if (it == names_.end()) return;
  auto& timer = *it->second.timer;
  timer.expires_after(std::max(from_now, milliseconds(1)));
  timer.async_wait([this, name](const boost::system::error_code& ec) {
    if (!ec) check(name);
  });
}

void lease_watch::report(lease_event event) const {
  if (sink_) sink_(event);
}

} // namespace baton::lease
