// Push events to local clients; see push_hub.hpp.
#include "daemon/push_hub.hpp"

#include <algorithm>

#include "daemon/client_connection.hpp"

namespace baton {

void push_hub::attach(const std::shared_ptr<client_connection>& conn) {
  clients_[conn->id()].conn = conn;
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
  clients_.erase(it);
  return watched;
}

bool push_hub::subscribe(const std::string& topic, std::uint64_t connection) {
  auto it = clients_.find(connection);
  if (it == clients_.end() || !it->second.topics.insert(topic).second) return false;
  topics_[topic].insert(connection);
  if (auto conn = it->second.conn.lock()) conn->set_watching(it->second.topics.size());
  return true;
}

bool push_hub::unsubscribe(const std::string& topic, std::uint64_t connection) {
  auto it = clients_.find(connection);
  if (it == clients_.end() || it->second.topics.erase(topic) == 0) return false;
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
