// Channels that follow their slot; see shard_channels.hpp.
#include "redis/shard_channels.hpp"

#include "common/log.hpp"

namespace baton::redis_link {
namespace {
/// How soon a channel without a node is placed again (the map is asked for each time): a
/// migration's last step or a failover takes about this long to reach every node.
constexpr milliseconds retry_unplaced{250};

std::string node_name(const redis_endpoint& endpoint) {
  return endpoint.host + ":" + std::to_string(endpoint.port);
}
} // namespace

shard_channels::shard_channels(boost::asio::io_context& io, const link_settings& settings,
                               redis_pool& pool, redis_subscriber& classic)
    : io_(io), settings_(settings), pool_(pool), classic_(classic), retry_(io) {}

shard_channels::~shard_channels() {
  *alive_ = false;
  stop();
}

void shard_channels::subscribe(const std::string& channel, message_handler handler,
                               std::function<void()> subscribed) {
  if (!sharded()) return classic_.subscribe(channel, std::move(handler), std::move(subscribed));
  auto& f = channels_[channel];
  f.on_message = std::move(handler);
  f.on_subscribed = std::move(subscribed);
  if (f.node.empty()) place(channel);
}

void shard_channels::unsubscribe(const std::string& channel) {
  if (!sharded()) return classic_.unsubscribe(channel);
  auto it = channels_.find(channel);
  if (it == channels_.end()) return;
  auto node = it->second.node;
  channels_.erase(it);
  if (!node.empty()) leave_node(node, channel);
}

void shard_channels::start() {
  started_ = true;
  for (auto& [name, subscriber] : nodes_)
    subscriber->start();
}

void shard_channels::stop() {
  stopped_ = true;
  retry_.cancel();
  for (auto& [name, subscriber] : nodes_)
    subscriber->stop();
  nodes_.clear();
}

void shard_channels::map_changed() {
  if (stopped_) return;
  std::vector<std::string> names;
  for (auto& [channel, f] : channels_) {
    f.refused_by.clear(); // the map moved on: trust it again
    names.push_back(channel);
  }
  for (const auto& channel : names)
    place(channel);
}

std::size_t shard_channels::unplaced() const {
  std::size_t n = 0;
  for (const auto& [channel, f] : channels_)
    if (f.node.empty()) ++n;
  return n;
}

void shard_channels::place(const std::string& channel, bool retrying) {
  auto it = channels_.find(channel);
  if (it == channels_.end() || stopped_) return;
  auto owner = pool_.endpoint_for(channel);
  auto node = owner ? node_name(*owner) : std::string();
  if (node == it->second.node && !node.empty()) return; // still where it is followed
  if (retrying && !node.empty() && node == it->second.refused_by) return arm_retry();
  if (!it->second.node.empty()) leave_node(it->second.node, channel);
  it->second.node = node;
  if (!owner) return arm_retry(); // the map is not known yet, or the slot has no primary
  // The node's subscriber calls back through this object only while it is alive, and only
  // for the channel as followed on that node (a late message from an old node is dropped).
  subscriber_for(*owner, node)
      .subscribe(
          channel,
          [this, alive = alive_, channel, node](const std::string& payload) {
            if (!*alive) return;
            auto found = channels_.find(channel);
            if (found == channels_.end() || found->second.node != node) return;
            auto handler = found->second.on_message; // it may unsubscribe
            handler(payload);
          },
          [this, alive = alive_, channel, node] {
            if (!*alive) return;
            auto found = channels_.find(channel);
            if (found == channels_.end() || found->second.node != node ||
                !found->second.on_subscribed)
              return;
            auto subscribed = found->second.on_subscribed;
            subscribed();
          });
}

void shard_channels::moved_away(const std::string& node, const std::string& channel) {
  auto it = channels_.find(channel);
  if (it == channels_.end() || it->second.node != node) return;
  it->second.node.clear();
  it->second.refused_by = node;
  // The node said the slot is not its own: the map is behind. Place it again once the map
  // was asked again (map_changed), or after a pause if the map stays the same.
  pool_.refresh_map("a shard channel's slot moved");
  arm_retry();
  // Its subscriber may be left with nothing to follow.
  if (auto n = nodes_.find(node); n != nodes_.end() && n->second->channel_count() == 0) {
    n->second->stop();
    nodes_.erase(n);
  }
}

void shard_channels::leave_node(const std::string& node, const std::string& channel) {
  auto n = nodes_.find(node);
  if (n == nodes_.end()) return;
  if (n->second->channel_count() > 1) return n->second->unsubscribe(channel);
  // Its last channel: closing the connection ends the subscription without a SUNSUBSCRIBE
  // (which the node may answer with MOVED if the slot is leaving it).
  n->second->stop();
  nodes_.erase(n);
}

redis_subscriber& shard_channels::subscriber_for(const redis_endpoint& endpoint,
                                                 const std::string& node) {
  auto& slot = nodes_[node];
  if (!slot) {
    auto settings = settings_;
    settings.endpoint = endpoint;
    slot = std::make_shared<redis_subscriber>(io_, settings, redis_subscriber::mode::sharded);
    slot->on_moved_away([this, alive = alive_, node](const std::string& channel) {
      if (*alive) moved_away(node, channel);
    });
    if (started_) slot->start();
  }
  return *slot;
}

void shard_channels::arm_retry() {
  if (retry_armed_ || stopped_) return;
  retry_armed_ = true;
  retry_.expires_after(retry_unplaced);
  retry_.async_wait([this, alive = alive_](const boost::system::error_code& ec) {
    if (ec || !*alive) return;
    retry_armed_ = false;
    if (stopped_ || unplaced() == 0) return;
    // The map asked for now arrives later (map_changed); meanwhile place what the current
    // map places somewhere other than where it was refused.
    pool_.refresh_map("a shard channel has no node");
    std::vector<std::string> names;
    for (const auto& [channel, f] : channels_)
      if (f.node.empty()) names.push_back(channel);
    for (const auto& channel : names)
      place(channel, true);
  });
}

} // namespace baton::redis_link
