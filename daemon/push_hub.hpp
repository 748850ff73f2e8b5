// Push events to local clients (lease changes, leadership, later secrets and sessions): as
// RESP3 pushes, or as plain arrays on a RESP2 connection in watch mode (the way Redis pub/sub
// works: such a connection accepts only WATCH, UNWATCH, PING, HELLO and QUIT). Clients
// subscribe to topics ("lease:<name>", "elect:<group>"); the parts that produce events
// publish to a topic, or push to one connection (a holder told it lost its lease).
// What all connections of one uid watch together is capped (socket.max_watches_per_uid): the
// WATCH commands ask room_for() before they subscribe, and a refusal is counted.
// Lives on the I/O thread, in daemon_context.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "protocol/reply_writer.hpp"

namespace baton {

class client_connection;

class push_hub {
public:
  /// Writes one push (reply_writer::push and its elements) in the writer's protocol.
  using encoder = std::function<void(protocol::reply_writer&)>;

  /// Every connection is known by id while it is open, so a push can reach any of them.
  void attach(const std::shared_ptr<client_connection>& conn);
  /// The connection closed: forgets it, and answers the topics it watched.
  std::vector<std::string> detach(std::uint64_t connection);

  /// Caps the topics all connections of one uid watch together.
  void set_max_watches_per_uid(std::size_t max) { max_watches_per_uid_ = max; }
  /// Whether the connection may start watching `topics` (those it watches already do not
  /// count) without its uid passing the cap. A refusal is counted.
  bool room_for(std::uint64_t connection, const std::vector<std::string>& topics);
  /// Holds room for a WATCH that follows its names through Redis before it subscribes, so
  /// that WATCHes in flight together cannot pass the cap; nothing if room_for() refuses.
  /// Give it back with release() when the WATCH ends, either way.
  std::optional<std::size_t> reserve(std::uint64_t connection,
                                     const std::vector<std::string>& topics);
  void release(uid_t uid, std::size_t reserved);
  /// The error a WATCH answers when room_for() refused.
  std::string limit_error() const;
  /// Topics watched by all connections of a uid.
  std::size_t watches_of_uid(uid_t uid) const;
  /// baton_watches (gauge) and baton_watches_refused_total.
  void render_metrics(std::string& out) const;

  /// True when the connection did not watch the topic before.
  bool subscribe(const std::string& topic, std::uint64_t connection);
  /// True when the connection did watch the topic.
  bool unsubscribe(const std::string& topic, std::uint64_t connection);
  /// The topics a connection watches, sorted.
  std::vector<std::string> topics_of(std::uint64_t connection) const;
  bool watches(std::uint64_t connection, const std::string& topic) const;
  /// Every topic someone watches that starts with `prefix`.
  std::vector<std::string> topics_with_prefix(std::string_view prefix) const;

  /// Pushes to every watcher of the topic.
  void publish(const std::string& topic, const encoder& write) const;
  /// What one watcher of a topic gets, chosen per connection (a session's token only for its
  /// own uid): the encoder to push, or nullptr for nothing.
  using chooser = std::function<const encoder*(const client_connection&)>;
  void publish_each(const std::string& topic, const chooser& choose) const;
  /// Pushes to one connection, if it can take a push now (RESP3, or RESP2 in watch mode).
  void push_to(std::uint64_t connection, const encoder& write) const;
  /// What the connection holds unsent (client_connection::buffered); 0 once it is gone. A
  /// producer with a backlog (EVENTS WATCH catching up) waits while it is high.
  std::size_t buffered(std::uint64_t connection) const;

private:
  void deliver(client_connection& conn, const encoder& write) const;

  void count_uid(uid_t uid, std::size_t added, std::size_t removed);

  struct client {
    std::weak_ptr<client_connection> conn;
    uid_t uid = static_cast<uid_t>(-1);
    std::unordered_set<std::string> topics;
  };
  std::unordered_map<std::uint64_t, client> clients_;
  std::unordered_map<std::string, std::unordered_set<std::uint64_t>> topics_;
  std::size_t max_watches_per_uid_ = 100000;
  std::unordered_map<uid_t, std::size_t> watches_by_uid_; ///< only uids that watch something
  std::unordered_map<uid_t, std::size_t> pending_by_uid_; ///< reserved by WATCHes in flight
  std::size_t watches_ = 0;                               ///< (connection, topic) pairs
  std::uint64_t refused_ = 0;
};

} // namespace baton
