// The subscribe-mode connection; see redis_subscriber.hpp.
#include "redis/redis_subscriber.hpp"

#include <boost/asio/buffer.hpp>
#include <hiredis/hiredis.h>

#include <algorithm>
#include <optional>
#include <sstream>

#include "common/log.hpp"
#include "redis/cluster_map.hpp"
#include "redis/redis_connection.hpp"

namespace baton::redis_link {
using boost::system::error_code;

namespace {
/// The slot of a "MOVED <slot> host:port" or "ASK <slot> host:port" error, or nullopt.
std::optional<int> redirect_slot(const std::string& error) {
  std::istringstream in(error);
  std::string kind;
  int slot = -1;
  if (!(in >> kind >> slot) || (kind != "MOVED" && kind != "ASK") || slot < 0 ||
      slot >= static_cast<int>(cluster_slots))
    return std::nullopt;
  return slot;
}
} // namespace

redis_subscriber::redis_subscriber(boost::asio::io_context& io, const link_settings& settings,
                                   mode how)
    : io_(io), settings_(settings), sharded_(how == mode::sharded), read_buffer_(16 * 1024),
      timer_(io), ping_timer_(io), jitter_(static_cast<unsigned>(clock::now().time_since_epoch().count())) {
  transport_ = make_transport(io_, settings_.endpoint, settings_.tls);
}

redis_subscriber::~redis_subscriber() {
  if (reader_ != nullptr) redisReaderFree(reader_);
}

void redis_subscriber::subscribe(const std::string& channel, message_handler handler,
                                 std::function<void()> subscribed) {
  bool is_new = channels_.count(channel) == 0;
  channels_[channel] = {std::move(handler), std::move(subscribed)};
  // Before this connection's SUBSCRIBE went out, the channel rides along with it.
  if (!is_new || !subscribe_sent_) return;
  if (sharded_)
    send_sharded(true, channel);
  else
    send({"SUBSCRIBE", channel});
}

void redis_subscriber::unsubscribe(const std::string& channel) {
  if (channels_.erase(channel) == 0) return;
  if (!subscribe_sent_) return;
  if (sharded_)
    send_sharded(false, channel);
  else
    send({"UNSUBSCRIBE", channel});
}

void redis_subscriber::send_sharded(bool subscribe, const std::string& channel) {
  pending_.emplace_back(subscribe, channel);
  send({subscribe ? "SSUBSCRIBE" : "SUNSUBSCRIBE", channel});
}

void redis_subscriber::on_resubscribed(std::function<void()> handler) {
  resubscribed_.push_back(std::move(handler));
}

void redis_subscriber::start() {
  started_ = true;
  bool has_target = settings_.endpoint.transport == transport_kind::unix_socket ||
                    !settings_.endpoint.host.empty();
  if (state_ == state::idle && has_target) connect();
}

void redis_subscriber::retarget(const redis_endpoint& endpoint) {
  const auto& now = settings_.endpoint;
  if (state_ == state::stopped ||
      (endpoint.host == now.host && endpoint.port == now.port && endpoint.path == now.path))
    return;
  settings_.endpoint = endpoint;
  retired_transport_ = std::move(transport_);
  transport_ = make_transport(io_, settings_.endpoint, settings_.tls);
  retired_transport_->close();
  attempt_ = 0;
  if (!started_) return;
  if (state_ != state::idle) state_ = state::idle; // the old server's subscription is void
  tell_lost();
  ++generation_;
  timer_.cancel();
  connect();
}

void redis_subscriber::stop() {
  state_ = state::stopped;
  ++generation_;
  timer_.cancel();
  ping_timer_.cancel();
  transport_->close();
}

void redis_subscriber::connect() {
  state_ = state::connecting;
  auto generation = ++generation_;
  if (reader_ != nullptr) redisReaderFree(reader_);
  reader_ = redisReaderCreate();
  subscribe_sent_ = false;
  ping_outstanding_ = false;
  pending_.clear();
  output_.clear();
  write_in_flight_ = false;
  auto self = shared_from_this();
  timer_.expires_after(settings_.connect_timeout);
  timer_.async_wait([this, self, generation](const error_code& ec) {
    if (!ec && generation == generation_ && state_ == state::connecting)
      fail("connect or subscribe timed out");
  });
  transport_->async_connect([this, self, generation](const error_code& ec) {
    if (generation != generation_) return;
    if (ec) return fail("connect failed: " + ec.message());
    read();
    arm_ping(generation);
    // AUTH and CLIENT SETNAME first (not allowed once subscribed), then SUBSCRIBE.
    handshake_left_ = 1;
    const auto& ep = settings_.endpoint;
    if (!ep.password.empty()) {
      ++handshake_left_;
      if (ep.username.empty())
        send({"AUTH", ep.password});
      else
        send({"AUTH", ep.username, ep.password});
    }
    send({"CLIENT", "SETNAME", settings_.client_name + ":events"});
  });
}

void redis_subscriber::send(const std::vector<std::string>& args) {
  output_ += format_command(args);
  flush();
}

void redis_subscriber::flush() {
  if (write_in_flight_ || output_.empty()) return;
  writing_.swap(output_);
  output_.clear();
  write_in_flight_ = true;
  auto self = shared_from_this();
  auto generation = generation_;
  transport_->async_write(boost::asio::buffer(writing_),
                          [this, self, generation](const error_code& ec, std::size_t) {
                            if (generation != generation_) return;
                            write_in_flight_ = false;
                            if (ec) return fail("write failed: " + ec.message());
                            flush();
                          });
}

void redis_subscriber::read() {
  auto self = shared_from_this();
  auto generation = generation_;
  transport_->async_read_some(
      boost::asio::buffer(read_buffer_),
      [this, self, generation](const error_code& ec, std::size_t n) {
        if (generation != generation_) return;
        if (ec)
          return fail(ec == boost::asio::error::eof ? "redis closed the connection"
                                                    : "read failed: " + ec.message());
        if (redisReaderFeed(reader_, read_buffer_.data(), n) != REDIS_OK)
          return fail(std::string("bad reply from redis: ") + reader_->errstr);
        for (;;) {
          void* reply = nullptr;
          if (redisReaderGetReply(reader_, &reply) != REDIS_OK)
            return fail(std::string("bad reply from redis: ") + reader_->errstr);
          if (reply == nullptr) break;
          handle(reply);
          freeReplyObject(reply);
          if (generation != generation_) return;
        }
        read();
      });
}

void redis_subscriber::handle(void* raw) {
  const auto* reply = static_cast<const redisReply*>(raw);
  if (reply->type == REDIS_REPLY_ERROR) {
    std::string error(reply->str, reply->len);
    // Sharded: a node that does not serve a channel's slot answers its SSUBSCRIBE (and
    // SUNSUBSCRIBE) with MOVED (the map we placed it by is behind); the channel needs a new
    // home, the connection is fine. Any other refusal (an ACL without the channel) is the
    // connection's: it starts again after the backoff.
    if (!sharded_ || handshake_left_ > 0) return fail("redis refused: " + error);
    auto slot = redirect_slot(error);
    if (!slot) return fail("redis refused: " + error);
    auto it = std::find_if(pending_.begin(), pending_.end(),
                           [&](const auto& p) { return key_slot(p.second) == *slot; });
    if (it == pending_.end()) return; // an answer to a SUNSUBSCRIBE the node already did itself
    auto [subscribing, channel] = *it;
    pending_.erase(it);
    if (subscribing) {
      log::debug("redis", "shard channel refused", {{"channel", channel}, {"reply", error}});
      moved_away(channel);
    }
    return;
  }
  if (reply->type == REDIS_REPLY_STATUS) { // AUTH, CLIENT SETNAME; PONG when not subscribed
    if (handshake_left_ == 0 && std::string_view(reply->str, reply->len) == "PONG") {
      ping_outstanding_ = false;
      return;
    }
    if (handshake_left_ > 0 && --handshake_left_ == 0) {
      if (sharded_) {
        // Each channel is confirmed on its own (subscribed_to); the connection is up now.
        subscribe_sent_ = true;
        state_ = state::subscribed;
        timer_.cancel();
        attempt_ = 0;
        std::vector<std::string> names;
        for (const auto& [channel, handlers] : channels_)
          names.push_back(channel);
        for (const auto& channel : names)
          send_sharded(true, channel);
        return;
      }
      if (channels_.empty()) {
        subscribe_sent_ = true;
        state_ = state::subscribed;
        timer_.cancel();
        attempt_ = 0;
        return;
      }
      std::vector<std::string> args{"SUBSCRIBE"};
      for (const auto& [channel, handlers] : channels_)
        args.push_back(channel);
      subscribe_sent_ = true;
      send(args);
    }
    return;
  }
  if (reply->type == REDIS_REPLY_ARRAY && reply->elements >= 1 &&
      reply->element[0]->type == REDIS_REPLY_STRING &&
      std::string_view(reply->element[0]->str, reply->element[0]->len) == "pong") {
    ping_outstanding_ = false;
    return;
  }
  if (reply->type != REDIS_REPLY_ARRAY || reply->elements < 3) return;
  std::string kind(reply->element[0]->str, reply->element[0]->len);
  std::string channel(reply->element[1]->str, reply->element[1]->len);
  if (sharded_) return handle_sharded(kind, channel, reply);
  if (kind == "message") return deliver(channel, reply);
  if (kind != "subscribe") return;
  subscribed_to(channel);
  if (state_ == state::connecting &&
      static_cast<std::size_t>(reply->element[2]->integer) >= channels_.size()) {
    state_ = state::subscribed;
    timer_.cancel();
    attempt_ = 0;
    log::info("redis", "subscribed to events", {{"channels", std::to_string(channels_.size())}});
    for (auto& handler : resubscribed_)
      handler();
  }
}

void redis_subscriber::deliver(const std::string& channel, const void* raw) {
  const auto* reply = static_cast<const redisReply*>(raw);
  auto it = channels_.find(channel);
  if (it == channels_.end()) return;
  auto handler = it->second.on_message; // it may unsubscribe, destroying the original
  handler(std::string(reply->element[2]->str, reply->element[2]->len));
}

void redis_subscriber::subscribed_to(const std::string& channel) {
  if (auto it = channels_.find(channel); it != channels_.end() && it->second.on_subscribed) {
    auto subscribed = it->second.on_subscribed; // the handler may unsubscribe
    subscribed();
  }
}

void redis_subscriber::handle_sharded(const std::string& kind, const std::string& channel,
                                      const void* raw) {
  const auto* reply = static_cast<const redisReply*>(raw);
  if (kind == "smessage") return deliver(channel, reply);
  auto pending = [&](bool subscribing) {
    return std::find(pending_.begin(), pending_.end(), std::make_pair(subscribing, channel));
  };
  if (kind == "ssubscribe") {
    // A confirmation nothing asked for means this connection's idea of what it follows is
    // wrong: start it again from the channels.
    auto it = pending(true);
    if (it == pending_.end()) return fail("a sharded subscription nobody asked for: " + channel);
    pending_.erase(it);
    return subscribed_to(channel);
  }
  if (kind != "sunsubscribe") return;
  if (auto it = pending(false); it != pending_.end()) {
    pending_.erase(it); // the answer to our SUNSUBSCRIBE
    return;
  }
  // Unasked: the channel's slot left this node (a migration or a failover). Messages published
  // meanwhile on its new node are gone: the new subscription's `subscribed` lets the listener
  // catch up.
  log::info("redis", "shard channel moved away", {{"channel", channel}});
  moved_away(channel);
}

void redis_subscriber::moved_away(const std::string& channel) {
  if (channels_.erase(channel) == 0) return;
  if (moved_away_) moved_away_(channel);
}

void redis_subscriber::arm_ping(std::uint64_t generation) {
  auto period = std::max<milliseconds>(settings_.dead_connection / 3, milliseconds(50));
  ping_timer_.expires_after(period);
  ping_timer_.async_wait([this, self = shared_from_this(), generation](const error_code& ec) {
    if (ec || generation != generation_) return;
    if (state_ == state::subscribed) {
      auto now = std::chrono::steady_clock::now();
      if (!ping_outstanding_) {
        ping_outstanding_ = true;
        ping_sent_ = now;
        send({"PING"});
      } else if (now - ping_sent_ >= settings_.dead_connection) {
        return fail("no answer to PING for " +
                    std::to_string(settings_.dead_connection.count()) + " ms");
      }
    }
    arm_ping(generation);
  });
}

void redis_subscriber::fail(const std::string& reason) {
  if (state_ == state::stopped) return;
  auto level = attempt_ == 0 ? log::level::warning : log::level::debug;
  if (log::enabled(level))
    log::write(level, "redis", "event connection down", {{"reason", reason}});
  state_ = state::idle;
  subscribe_sent_ = false;
  ++generation_;
  transport_->close();
  tell_lost();
  auto step = std::min<long long>(settings_.reconnect_max.count(), settings_.reconnect_min.count()
                                                                       << std::min(attempt_, 16u));
  ++attempt_;
  std::uniform_int_distribution<long long> half(0, std::max<long long>(step / 2, 1));
  auto self = shared_from_this();
  auto generation = generation_;
  timer_.expires_after(milliseconds(step / 2 + half(jitter_)));
  timer_.async_wait([this, self, generation](const error_code& ec) {
    if (!ec && generation == generation_ && state_ == state::idle) connect();
  });
}

} // namespace baton::redis_link
