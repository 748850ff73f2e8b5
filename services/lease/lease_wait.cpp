// WAIT: queued acquisitions, woken by release announcements from every daemon, in arrival
// order per host; part of lease_service (see lease_service.hpp).
#include <algorithm>

#include "common/log.hpp"
#include "model/lease/lease_keys.hpp"
#include "services/lease/lease_outcomes.hpp"
#include "services/lease/lease_service.hpp"

namespace baton::lease {

using redis_link::redis_reply;
using redis_link::reply_kind;

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
  // Waiters whose time is up get the last refusal they heard. One that has not tried yet
  // (WAIT 0, or its time ran out behind others) tries once first: it must not be told who
  // holds the lease without asking, nor be refused a lease that is free.
  while (!queue.waiters.empty() && queue.waiters.front().deadline <= now &&
         queue.waiters.front().last_denial) {
    auto expired = std::move(queue.waiters.front());
    queue.waiters.pop_front();
    expired.done(std::move(*expired.last_denial));
  }
  if (queue.waiters.empty()) {
    waiting_.erase(it);
    return;
  }
  queue.trying = true;
  attempt(queue.waiters.front().request, [this, name](protocol::result<lease_grant> r) {
    auto found = waiting_.find(name);
    if (found == waiting_.end() || found->second.waiters.empty()) return;
    auto& q = found->second;
    q.trying = false;
    if (!r && r.error().code == error_code::denied) {
      auto& head = q.waiters.front();
      // Retry when the holder's time runs out (an expiry announces nothing), or earlier when
      // a release is announced, or give up at the deadline.
      const auto* holder = r.error().context_as<lease_holder>();
      auto left = milliseconds(holder ? holder->remaining_ms : 0);
      auto retry_at = clock::now() + left + milliseconds(1);
      head.last_denial = std::move(r).error();
      auto first_deadline = head.deadline;
      for (const auto& w : q.waiters)
        first_deadline = std::min(first_deadline, w.deadline);
      return schedule_retry(name, std::min(retry_at, first_deadline));
    }
    auto head = std::move(q.waiters.front());
    q.waiters.pop_front();
    head.done(std::move(r)); // granted, or a hard error such as UNAVAILABLE
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

} // namespace baton::lease
