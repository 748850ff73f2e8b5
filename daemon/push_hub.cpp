// Push events to local clients; see push_hub.hpp.
#include "daemon/push_hub.hpp"

#include <algorithm>

#include "daemon/client_connection.hpp"
#include "metrics/exposition.hpp"

namespace baton {

void push_hub::attach(const std::shared_ptr<client_connection>& conn) {
  auto& c = clients_[conn->id()];
  c.conn = conn;
  c.uid = conn->peer().uid;
}

void push_hub::count_uid(uid_t uid, std::size_t added, std::size_t removed) {
  watches_ = watches_ + added - removed;
  auto& n = watches_by_uid_[uid];
  n = n + added - removed;
  if (n == 0) watches_by_uid_.erase(uid);
}

bool push_hub::room_for(std::uint64_t connection, const std::vector<std::string>& topics) {
  auto it = clients_.find(connection);
  if (it == clients_.end()) return true; // closed: subscribe() will refuse it anyway
  std::size_t added = 0;
  for (const auto& topic : topics)
    if (it->second.topics.count(topic) == 0) ++added;
  auto pending = pending_by_uid_.find(it->second.uid);
  auto reserved = pending == pending_by_uid_.end() ? 0 : pending->second;
  if (watches_of_uid(it->second.uid) + reserved + added <= max_watches_per_uid_) return true;
  ++refused_;
  return false;
}

std::optional<std::size_t> push_hub::reserve(std::uint64_t connection,
                                             const std::vector<std::string>& topics) {
  if (!room_for(connection, topics)) return std::nullopt;
  auto it = clients_.find(connection);
  if (it == clients_.end()) return std::size_t{0}; // closed: subscribe() will refuse it
  std::size_t added = 0;
  for (const auto& topic : topics)
    if (it->second.topics.count(topic) == 0) ++added;
  if (added > 0) pending_by_uid_[it->second.uid] += added;
  return added;
}

void push_hub::release(uid_t uid, std::size_t reserved) {
  auto it = pending_by_uid_.find(uid);
  if (it == pending_by_uid_.end() || reserved == 0) return;
  it->second -= std::min(it->second, reserved);
  if (it->second == 0) pending_by_uid_.erase(it);
}

std::string push_hub::limit_error() const {
  return "ERR max number of watched names for this uid reached (socket.max_watches_per_uid = " +
         std::to_string(max_watches_per_uid_) + "); UNWATCH some first";
}

std::size_t push_hub::watches_of_uid(uid_t uid) const {
  auto it = watches_by_uid_.find(uid);
  return it == watches_by_uid_.end() ? 0 : it->second;
}

void push_hub::render_metrics(std::string& out) const {
  metrics::exposition e(out);
  e.declare("baton_watches", "gauge", "Names watched by local connections now (per connection).");
  e.sample("baton_watches", static_cast<std::uint64_t>(watches_));
  e.declare("baton_watches_refused_total", "counter",
            "WATCH and SUBSCRIBE refused over socket.max_watches_per_uid.");
  e.sample("baton_watches_refused_total", refused_);
}

std::vector<std::string> push_hub::detach(std::uint64_t connection) {
  std::vector<std::string> watched;
  auto it = clients_.find(connection);
  if (it == clients_.end()) return watched;
  for (const auto& topic : it->second.topics) {
    watched.push_back(topic);
    auto t = topics_.find(topic);
    if (t == topics_.end()) continue;
    t->second.erase(connection);
    if (t->second.empty()) topics_.erase(t);
  }
  count_uid(it->second.uid, 0, it->second.topics.size());
  clients_.erase(it);
  return watched;
}

bool push_hub::subscribe(const std::string& topic, std::uint64_t connection) {
  auto it = clients_.find(connection);
  if (it == clients_.end() || !it->second.topics.insert(topic).second) return false;
  topics_[topic].insert(connection);
  count_uid(it->second.uid, 1, 0);
  if (auto conn = it->second.conn.lock()) conn->set_watching(it->second.topics.size());
  return true;
}

bool push_hub::unsubscribe(const std::string& topic, std::uint64_t connection) {
  auto it = clients_.find(connection);
  if (it == clients_.end() || it->second.topics.erase(topic) == 0) return false;
  count_uid(it->second.uid, 0, 1);
  if (auto conn = it->second.conn.lock()) conn->set_watching(it->second.topics.size());
  auto t = topics_.find(topic);
  if (t != topics_.end()) {
    t->second.erase(connection);
    if (t->second.empty()) topics_.erase(t);
  }
  return true;
}

std::vector<std::string> push_hub::topics_of(std::uint64_t connection) const {
  std::vector<std::string> topics;
  if (auto it = clients_.find(connection); it != clients_.end())
    topics.assign(it->second.topics.begin(), it->second.topics.end());
  std::sort(topics.begin(), topics.end());
  return topics;
}

bool push_hub::watches(std::uint64_t connection, const std::string& topic) const {
  auto it = clients_.find(connection);
  return it != clients_.end() && it->second.topics.count(topic) != 0;
}

std::vector<std::string> push_hub::topics_with_prefix(std::string_view prefix) const {
  std::vector<std::string> found;
  for (const auto& [topic, watchers] : topics_)
    if (std::string_view(topic).substr(0, prefix.size()) == prefix) found.push_back(topic);
  return found;
}

void push_hub::publish(const std::string& topic, const encoder& write) const {
  auto t = topics_.find(topic);
  if (t == topics_.end()) return;
  // Copied: a delivery may close a connection that overflowed, which detaches it.
  std::vector<std::uint64_t> watchers(t->second.begin(), t->second.end());
  for (auto id : watchers)
    push_to(id, write);
}

void push_hub::publish_each(const std::string& topic, const chooser& choose) const {
  auto t = topics_.find(topic);
  if (t == topics_.end()) return;
  std::vector<std::uint64_t> watchers(t->second.begin(), t->second.end());
  for (auto id : watchers) {
    auto it = clients_.find(id);
    if (it == clients_.end()) continue;
    auto conn = it->second.conn.lock();
    if (!conn) continue;
    if (const auto* write = choose(*conn)) push_to(id, *write);
  }
}

std::size_t push_hub::buffered(std::uint64_t connection) const {
  auto it = clients_.find(connection);
  if (it == clients_.end()) return 0;
  auto conn = it->second.conn.lock();
  return conn && !conn->is_closed() ? conn->buffered() : 0;
}

void push_hub::push_to(std::uint64_t connection, const encoder& write) const {
  auto it = clients_.find(connection);
  if (it == clients_.end()) return;
  auto conn = it->second.conn.lock();
  if (conn && !conn->is_closed() && (conn->protocol() >= 3 || conn->in_watch_mode()))
    deliver(*conn, write);
}

void push_hub::deliver(client_connection& conn, const encoder& write) const {
  std::string bytes;
  protocol::reply_writer out(bytes, conn.protocol());
  write(out);
  conn.push(std::move(bytes));
}

} // namespace baton
