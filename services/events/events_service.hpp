// EVENTS as this daemon's clients see them: a Redis Stream per topic ("<prefix>:events:{<topic>}")
// that any daemon appends to and any daemon reads from an id on, so that a reader that comes
// back to another host with its last id gets every later event once, in order; and consumer
// groups for work one consumer must do (at least once, with pending events claimed from a
// consumer that went quiet). Publishing tells every daemon the topic has news (one pub/sub
// channel), which wakes the reads blocked here: a blocked read never holds a Redis connection.
//
// Runs on the I/O thread, like the other request-path services.
#pragma once

#include <boost/asio/io_context.hpp>

#include <array>
#include <chrono>
#include <cstdint>
#include <functional>
#include <list>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "model/events/events_settings.hpp"
#include "protocol/result.hpp"
#include "redis/redis_pool.hpp"
#include "redis/redis_subscriber.hpp"

namespace baton::events {

struct event {
  std::string id;
  std::string payload;
};
using event_list = std::vector<event>;

template <class T>
using events_callback = std::function<void(protocol::result<T>)>;

/// "0", or "<ms>-<seq>": an id to read after. False for anything else.
bool valid_event_id(const std::string& id);

class events_service {
public:
  events_service(boost::asio::io_context& io, redis_link::redis_pool& redis,
                 events_config config, std::string prefix);
  ~events_service();

  /// Follows the news channel: a publish anywhere wakes the reads blocked on its topic.
  void listen(redis_link::redis_subscriber& events);

  /// The new event's id. With a `dedup` key, a publish of a key seen within
  /// events.dedup_window appends nothing and answers the first one's id; its lost answer is
  /// therefore asked again once (redis/idempotent_call.hpp) rather than answered UNKNOWN.
  void publish(const std::string& topic, const std::string& payload, const std::string& dedup,
               events_callback<std::string> done);
  /// The id of the topic's newest event ("0-0" for none): where "only from now" begins.
  void newest(const std::string& topic, events_callback<std::string> done);
  /// Events after `from` ("0": from the oldest kept; "$": only those published from now),
  /// at most `count`; with `block` > 0 and none yet, waits up to `block` for the first.
  void read(const std::string& topic, const std::string& from, std::size_t count,
            milliseconds block, events_callback<event_list> done);

  /// true: made; false: it was there.
  void group_create(const std::string& topic, const std::string& group, const std::string& from,
                    events_callback<bool> done);
  void group_read(const std::string& topic, const std::string& group, const std::string& consumer,
                  std::size_t count, milliseconds block, events_callback<event_list> done);
  /// How many of `ids` were pending and are acknowledged now.
  void group_ack(const std::string& topic, const std::string& group,
                 const std::vector<std::string>& ids, events_callback<std::int64_t> done);
  void group_claim(const std::string& topic, const std::string& group,
                   const std::string& consumer, milliseconds min_idle, std::size_t count,
                   events_callback<event_list> done);

  // -- watching: pushes to local connections, each from its own position -----------------
  /// How a follower's events reach its connection: in order, each once. Answers whether the
  /// connection takes more now (false: closed, or its unsent output is past a mark; the
  /// follower waits for it to drain instead of reading the next batch).
  using push_events = std::function<bool(std::uint64_t connection, const std::string& topic,
                                         const event_list& events)>;
  void on_push(push_events push) { push_ = std::move(push); }
  /// Pushes the connection every event of `topic` after `from` ("0", an id, or "$": from
  /// now), and each later one as it is published. Watching it again moves the position.
  /// `done` gets the position it starts after (UNAVAILABLE, and no watch, if "$" could not be
  /// read: starting elsewhere would skip or repeat events).
  void watch(std::uint64_t connection, const std::string& topic, const std::string& from,
             events_callback<std::string> done);
  void unwatch(std::uint64_t connection, const std::string& topic);
  bool following(std::uint64_t connection, const std::string& topic) const;
  void connection_closed(std::uint64_t connection);

  /// Answers every blocked read with what it has (nothing): the daemon stops.
  void stopping();

  static std::string news_channel(const std::string& prefix) { return prefix + ":events-news"; }

private:
  struct waiter; // a blocked read
  std::string stream_key(const std::string& topic) const;
  void read_after(const std::string& topic, std::string after, std::size_t count,
                  std::chrono::steady_clock::time_point deadline,
                  events_callback<event_list> done);
  void group_read_until(const std::string& topic, const std::string& group,
                        const std::string& consumer, std::size_t count,
                        std::chrono::steady_clock::time_point deadline,
                        events_callback<event_list> done);
  /// Runs `retry` when the topic has news, or `expired` at the deadline, whichever is first.
  void wait_for_news(const std::string& topic, std::chrono::steady_clock::time_point deadline,
                     std::function<void()> retry, std::function<void()> expired);
  void wake(const std::string& topic);
  void wake_all();
  /// Reads a follower's next events and pushes them; one read at a time per follower, and
  /// again at once if news came meanwhile or the read was full.
  void pump(const std::string& topic, std::uint64_t connection);
  void pump_later(const std::string& topic, std::uint64_t connection);
  /// News heard per topic (by a hash: a shared count only costs an extra read), so that a
  /// read whose reply comes after the news of what it missed reads again at once.
  std::uint64_t& news_of(const std::string& topic);
  std::array<std::uint64_t, 256> news_{};

  struct follower {
    std::string after; ///< the last id pushed (or the start)
    bool reading = false;
    bool again = false;
    std::uint64_t generation = 0; ///< a WATCH again starts a new one: older reads are dropped
  };
  std::map<std::string, std::map<std::uint64_t, follower>> followers_;
  push_events push_;
  std::uint64_t generations_ = 0;

  boost::asio::io_context& io_;
  redis_link::redis_pool& redis_;
  events_config config_;
  std::string prefix_;
  std::map<std::string, std::list<std::shared_ptr<waiter>>> waiting_;
  bool stopped_ = false;
};

} // namespace baton::events
