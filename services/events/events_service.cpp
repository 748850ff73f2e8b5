// Topics on Redis Streams; see events_service.hpp.
#include "services/events/events_service.hpp"

#include <boost/asio/steady_timer.hpp>

#include <charconv>

#include "common/log.hpp"
#include "redis/idempotent_call.hpp"
#include "services/unanswered.hpp"

namespace baton::events {

using protocol::error_code;
using protocol::fail;
using protocol::failure;
using protocol::result;
using redis_link::redis_reply;
using redis_link::reply_kind;
using steady = std::chrono::steady_clock;

namespace {

/// Digits of a number that fits 64 bits, as a stream id's parts must.
bool digits(std::string_view text) {
  std::uint64_t value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  return !text.empty() && ec == std::errc() && end == text.data() + text.size();
}

/// Entries as XRANGE and XREADGROUP give them: {{id, {field, value, ...}}, ...}; the payload
/// is field "p" (lua/events_publish.lua). nullopt for another shape.
std::optional<event_list> entries_of(const redis_reply& r) {
  if (r.kind == reply_kind::nil) return event_list{};
  if (r.kind != reply_kind::array) return std::nullopt;
  event_list out;
  out.reserve(r.elements.size());
  for (const auto& e : r.elements) {
    // XAUTOCLAIM leaves out entries deleted since; XREADGROUP gives them with nil fields.
    if (e.kind != reply_kind::array || e.elements.size() != 2) return std::nullopt;
    event ev{e.elements[0].str, {}};
    const auto& fields = e.elements[1];
    for (std::size_t i = 0; i + 1 < fields.elements.size(); i += 2)
      if (fields.elements[i].str == "p") ev.payload = fields.elements[i + 1].str;
    out.push_back(std::move(ev));
  }
  return out;
}

} // namespace

bool valid_event_id(const std::string& id) {
  if (id == "0") return true;
  auto dash = id.find('-');
  return dash != std::string::npos && digits(std::string_view(id).substr(0, dash)) &&
         digits(std::string_view(id).substr(dash + 1));
}

struct events_service::waiter {
  explicit waiter(boost::asio::io_context& io) : timer(io) {}
  boost::asio::steady_timer timer;
  std::function<void()> retry;
  std::function<void()> expired;
  bool done = false;
};

events_service::events_service(boost::asio::io_context& io, redis_link::redis_pool& redis,
                               events_config config, std::string prefix)
    : io_(io), redis_(redis), config_(std::move(config)), prefix_(std::move(prefix)) {}

events_service::~events_service() = default;

std::string events_service::stream_key(const std::string& topic) const {
  return prefix_ + ":events:{" + topic + "}";
}

void events_service::listen(redis_link::redis_subscriber& events) {
  events.subscribe(
      news_channel(prefix_), [this](const std::string& topic) { wake(topic); },
      // (Re)subscribed: news sent while the channel was down is gone; blocked reads look again.
      [this] { wake_all(); });
}

void events_service::publish(const std::string& topic, const std::string& payload,
                             const std::string& dedup, events_callback<std::string> done) {
  std::vector<std::string> args = {payload, std::to_string(config_.max_length),
                                   std::to_string(config_.max_age.count()),
                                   news_channel(prefix_), topic};
  auto answer = [done = std::move(done), deduped = !dedup.empty()](redis_reply reply) {
    if (reply.is_unavailable())
      return done(unanswered(reply, deduped
                                        ? "send it again with the same DEDUP key: it is "
                                          "published once"
                                        : "the event may or may not be published: read the "
                                          "topic from your last id to see (a DEDUP key makes "
                                          "sending it again safe)"));
    if (reply.kind != reply_kind::string) return done(unexpected_reply(reply));
    done(std::move(reply.str));
  };
  if (dedup.empty())
    return redis_.run_script("events_publish", {stream_key(topic)}, std::move(args),
                             std::move(answer));
  args.push_back(std::to_string(config_.dedup_window.count()));
  redis_link::run_idempotent(redis_, "events_publish",
                             {stream_key(topic), stream_key(topic) + ":dedup:" + dedup},
                             std::move(args),
                             [answer = std::move(answer)](redis_reply reply, bool) mutable {
                               answer(std::move(reply));
                             });
}

void events_service::newest(const std::string& topic, events_callback<std::string> done) {
  redis_.call({"XREVRANGE", stream_key(topic), "+", "-", "COUNT", "1"},
              [done = std::move(done)](redis_reply reply) {
                auto found = entries_of(reply);
                if (!found) return done(unexpected_reply(reply));
                done(found->empty() ? std::string("0-0") : found->front().id);
              });
}

void events_service::read(const std::string& topic, const std::string& from, std::size_t count,
                          milliseconds block, events_callback<event_list> done) {
  auto deadline = steady::now() + block;
  if (from != "$") return read_after(topic, from == "0" ? "0-0" : from, count, deadline,
                                     std::move(done));
  // "$": after the newest event there is now.
  newest(topic, [this, topic, count, deadline,
                 done = std::move(done)](protocol::result<std::string> position) mutable {
    if (!position) return done(position.error());
    read_after(topic, *position, count, deadline, std::move(done));
  });
}

std::uint64_t& events_service::news_of(const std::string& topic) {
  return news_[std::hash<std::string>()(topic) % news_.size()];
}

void events_service::read_after(const std::string& topic, std::string after, std::size_t count,
                                steady::time_point deadline, events_callback<event_list> done) {
  // News that comes while the read is on its way may concern what it did not see yet (it
  // arrives on another connection, in no order with the reply): then it reads again at once.
  auto seen = news_of(topic);
  redis_.call(
      {"XRANGE", stream_key(topic), "(" + after, "+", "COUNT", std::to_string(count)},
      [this, topic, after, count, deadline, seen,
       done = std::move(done)](redis_reply reply) mutable {
        auto got = entries_of(reply);
        if (!got) return done(unexpected_reply(reply));
        if (!got->empty() || steady::now() >= deadline || stopped_)
          return done(std::move(*got));
        if (news_of(topic) != seen)
          return read_after(topic, after, count, deadline, std::move(done));
        auto shared = std::make_shared<events_callback<event_list>>(std::move(done));
        wait_for_news(
            topic, deadline,
            [this, topic, after, count, deadline, shared] {
              read_after(topic, after, count, deadline, std::move(*shared));
            },
            [shared] { (*shared)(event_list{}); });
      });
}

void events_service::wait_for_news(const std::string& topic, steady::time_point deadline,
                                   std::function<void()> retry, std::function<void()> expired) {
  auto w = std::make_shared<waiter>(io_);
  w->retry = std::move(retry);
  w->expired = std::move(expired);
  auto& list = waiting_[topic];
  list.push_back(w);
  w->timer.expires_at(deadline);
  w->timer.async_wait([this, w, topic](const boost::system::error_code& ec) {
    // Cancelled: woken (done), or the service is going away with its waiters.
    if (ec == boost::asio::error::operation_aborted || w->done) return;
    w->done = true;
    if (auto it = waiting_.find(topic); it != waiting_.end()) {
      it->second.remove(w);
      if (it->second.empty()) waiting_.erase(it);
    }
    w->expired();
  });
}

void events_service::wake(const std::string& topic) {
  ++news_of(topic);
  if (auto f = followers_.find(topic); f != followers_.end()) {
    std::vector<std::uint64_t> connections;
    for (const auto& entry : f->second)
      connections.push_back(entry.first);
    for (auto connection : connections)
      pump(topic, connection);
  }
  auto it = waiting_.find(topic);
  if (it == waiting_.end()) return;
  auto woken = std::move(it->second);
  waiting_.erase(it);
  for (auto& w : woken) {
    if (w->done) continue;
    w->done = true;
    w->timer.cancel();
    w->retry();
  }
}

void events_service::wake_all() {
  std::vector<std::string> topics;
  for (const auto& [topic, list] : waiting_)
    topics.push_back(topic);
  for (const auto& [topic, followers] : followers_)
    if (!waiting_.count(topic)) topics.push_back(topic);
  for (const auto& topic : topics)
    wake(topic);
}

void events_service::watch(std::uint64_t connection, const std::string& topic,
                           const std::string& from, events_callback<std::string> done) {
  auto& f = followers_[topic][connection];
  f = follower{};
  f.generation = ++generations_;
  if (from != "$") {
    f.after = from == "0" ? "0-0" : from;
    done(f.after);
    return pump(topic, connection);
  }
  // "$": from the newest event there is now; news meanwhile waits for the position.
  f.reading = true;
  newest(topic, [this, topic, connection, generation = f.generation,
                 done = std::move(done)](protocol::result<std::string> position) {
                auto t = followers_.find(topic);
                if (t == followers_.end()) return done(fail(error_code::unavailable, "unwatched"));
                auto it = t->second.find(connection);
                if (it == t->second.end() || it->second.generation != generation)
                  return done(fail(error_code::unavailable, "unwatched"));
                if (!position) {
                  unwatch(connection, topic);
                  return done(position.error());
                }
                it->second.after = *position;
                it->second.reading = false;
                bool again = it->second.again;
                // Answering may run the client's next requests (an UNWATCH), or close it:
                // the follower is not touched after; pump looks it up again.
                done(it->second.after);
                if (again) pump(topic, connection);
              });
}

bool events_service::following(std::uint64_t connection, const std::string& topic) const {
  auto t = followers_.find(topic);
  return t != followers_.end() && t->second.count(connection) > 0;
}

void events_service::unwatch(std::uint64_t connection, const std::string& topic) {
  auto t = followers_.find(topic);
  if (t == followers_.end()) return;
  t->second.erase(connection);
  if (t->second.empty()) followers_.erase(t);
}

void events_service::connection_closed(std::uint64_t connection) {
  for (auto t = followers_.begin(); t != followers_.end();) {
    t->second.erase(connection);
    t = t->second.empty() ? followers_.erase(t) : std::next(t);
  }
}

void events_service::pump(const std::string& topic, std::uint64_t connection) {
  auto t = followers_.find(topic);
  if (t == followers_.end() || stopped_) return;
  auto it = t->second.find(connection);
  if (it == t->second.end()) return;
  auto& f = it->second;
  if (f.reading) {
    f.again = true;
    return;
  }
  f.reading = true;
  f.again = false;
  constexpr std::size_t batch = 100;
  redis_.call(
      {"XRANGE", stream_key(topic), "(" + f.after, "+", "COUNT", std::to_string(batch)},
      [this, topic, connection, generation = f.generation](redis_reply reply) {
        auto topic_at = followers_.find(topic);
        if (topic_at == followers_.end()) return;
        auto at = topic_at->second.find(connection);
        if (at == topic_at->second.end() || at->second.generation != generation) return;
        auto& now = at->second;
        now.reading = false;
        auto got = entries_of(reply);
        if (!got && reply.kind == reply_kind::error) {
          // Redis refuses this read (not a matter of time): the watch ends, and says why.
          log::warn("events", "a watch ends: redis refused its read",
                    {{"topic", topic}, {"why", reply.str}});
          return unwatch(connection, topic);
        }
        if (!got) return pump_later(topic, connection); // Redis did not answer: again soon
        bool more = true;
        if (!got->empty()) {
          now.after = got->back().id;
          bool full = got->size() == batch;
          bool again = now.again;
          // The push may close the connection (a client that does not read), which forgets
          // this follower: nothing of it is used after.
          if (push_) more = push_(connection, topic, *got);
          if (!more) return pump_later(topic, connection); // its output is full: let it drain
          if (full || again) pump(topic, connection);
          return;
        }
        if (now.again) pump(topic, connection);
      });
}

void events_service::pump_later(const std::string& topic, std::uint64_t connection) {
  auto timer = std::make_shared<boost::asio::steady_timer>(io_, std::chrono::milliseconds(100));
  timer->async_wait([this, timer, topic, connection](const boost::system::error_code& ec) {
    if (!ec) pump(topic, connection);
  });
}

void events_service::stopping() {
  stopped_ = true;
  wake_all(); // each reads once more and, stopped, answers what it has
}

void events_service::group_create(const std::string& topic, const std::string& group,
                                  const std::string& from, events_callback<bool> done) {
  redis_.run_script("events_group_create", {stream_key(topic)}, {group, from},
                    [done = std::move(done)](redis_reply reply) {
                      if (reply.is_unavailable())
                        return done(unanswered(reply, "the group may or may not be made: "
                                                      "GROUP CREATE again, which is safe"));
                      if (reply.kind != reply_kind::integer) return done(unexpected_reply(reply));
                      done(reply.integer == 1);
                    });
}

void events_service::group_read(const std::string& topic, const std::string& group,
                                const std::string& consumer, std::size_t count,
                                milliseconds block, events_callback<event_list> done) {
  group_read_until(topic, group, consumer, count, steady::now() + block, std::move(done));
}

void events_service::group_read_until(const std::string& topic, const std::string& group,
                                      const std::string& consumer, std::size_t count,
                                      steady::time_point deadline,
                                      events_callback<event_list> done) {
  auto seen = news_of(topic); // as in read_after
  redis_.run_script(
      "events_group_read", {stream_key(topic)}, {group, consumer, std::to_string(count)},
      [this, topic, group, consumer, count, deadline, seen,
       done = std::move(done)](redis_reply reply) mutable {
        if (reply.is_unavailable())
          // Delivered to this consumer maybe: they stay pending and come back by CLAIM.
          return done(unanswered(reply, "events may have been delivered to this consumer: "
                                        "they stay pending; CLAIM them (or wait for another "
                                        "consumer's CLAIM)"));
        if (reply.kind != reply_kind::array || reply.elements.size() != 2)
          return done(unexpected_reply(reply));
        auto got = entries_of(reply.elements[0]);
        if (!got) return done(unexpected_reply(reply));
        if (!got->empty() || steady::now() >= deadline || stopped_) return done(std::move(*got));
        if (news_of(topic) != seen)
          return group_read_until(topic, group, consumer, count, deadline, std::move(done));
        auto shared = std::make_shared<events_callback<event_list>>(std::move(done));
        wait_for_news(
            topic, deadline,
            [this, topic, group, consumer, count, deadline, shared] {
              group_read_until(topic, group, consumer, count, deadline, std::move(*shared));
            },
            [shared] { (*shared)(event_list{}); });
      });
}

void events_service::group_ack(const std::string& topic, const std::string& group,
                               const std::vector<std::string>& ids,
                               events_callback<std::int64_t> done) {
  std::vector<std::string> args{group, config_.trim_acknowledged ? "trim" : ""};
  args.insert(args.end(), ids.begin(), ids.end());
  redis_.run_script("events_ack", {stream_key(topic)}, std::move(args),
                   [done = std::move(done)](redis_reply reply) {
                     if (reply.is_unavailable())
                       return done(unanswered(reply, "ACK again, which is safe"));
                     if (reply.kind != reply_kind::array || reply.elements.size() != 2)
                       return done(unexpected_reply(reply));
                     done(reply.elements[0].integer);
                   });
}

void events_service::group_claim(const std::string& topic, const std::string& group,
                                 const std::string& consumer, milliseconds min_idle,
                                 std::size_t count, events_callback<event_list> done) {
  redis_.run_script("events_claim", {stream_key(topic)},
                    {group, consumer, std::to_string(min_idle.count()), std::to_string(count)},
                    [done = std::move(done)](redis_reply reply) {
                      if (reply.is_unavailable())
                        return done(unanswered(reply, "events may have been claimed by this "
                                                      "consumer: CLAIM again, which gives them "
                                                      "again"));
                      auto got = entries_of(reply);
                      if (!got) return done(unexpected_reply(reply));
                      done(std::move(*got));
                    });
}

} // namespace baton::events
