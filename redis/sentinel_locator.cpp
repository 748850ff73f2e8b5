// Following the master through Sentinel; see sentinel_locator.hpp.
#include "redis/sentinel_locator.hpp"

#include <sstream>

#include "common/log.hpp"

namespace baton::redis_link {
namespace {

// Between rounds of questions, at least this long: a burst of doubts (every connection of the
// pool breaking at once) costs one round, not one per connection.
constexpr milliseconds min_round_gap{100};
// While no sentinel named a master, ask this often.
constexpr milliseconds retry_unknown{250};

} // namespace

std::optional<master_view> parse_master_view(const redis_reply& reply) {
  if (reply.kind != reply_kind::array) return std::nullopt;
  master_view view;
  bool has_ip = false, has_port = false;
  for (std::size_t i = 0; i + 1 < reply.elements.size(); i += 2) {
    const auto& field = reply.elements[i].str;
    const auto& value = reply.elements[i + 1].str;
    try {
      if (field == "ip") {
        view.host = value;
        has_ip = !value.empty();
      } else if (field == "port") {
        long port = std::stol(value);
        if (port < 1 || port > 65535) return std::nullopt;
        view.port = static_cast<unsigned short>(port);
        has_port = true;
      } else if (field == "config-epoch") {
        view.config_epoch = std::stoll(value);
      } else if (field == "flags") {
        view.flags = value;
      }
    } catch (const std::exception&) { // a number that is not one: not an answer we can use
      return std::nullopt;
    }
  }
  if (!has_ip || !has_port) return std::nullopt;
  return view;
}

sentinel_locator::sentinel_locator(boost::asio::io_context& io, const link_settings& settings,
                                   link_counters& counters)
    : io_(io), settings_(settings), counters_(counters), refresh_timer_(io) {
  // Settled before any connection takes a reference to its element.
  sentinel_settings_.reserve(settings_.sentinels.size());
  for (const auto& sentinel : settings_.sentinels) {
    link_settings s;
    s.endpoint = sentinel;
    s.endpoint.username = settings_.sentinel_username;
    s.endpoint.password = settings_.sentinel_password;
    s.endpoint.database = 0;
    s.tls = settings_.tls;
    s.client_name = settings_.client_name + ":sentinel";
    s.connections = 1;
    s.call_timeout = settings_.connect_timeout;
    s.connect_timeout = settings_.connect_timeout;
    s.dead_connection = settings_.dead_connection;
    s.reconnect_min = settings_.reconnect_min;
    s.reconnect_max = settings_.reconnect_max;
    sentinel_settings_.push_back(std::move(s));
  }
  for (std::size_t i = 0; i < sentinel_settings_.size(); ++i) {
    queries_.push_back(std::make_shared<redis_connection>(io_, sentinel_settings_[i],
                                                          sentinel_counters_, *this, i));
    watchers_.push_back(std::make_shared<redis_subscriber>(io_, sentinel_settings_[i]));
  }
}

sentinel_locator::~sentinel_locator() {
  stop();
}

void sentinel_locator::start() {
  for (auto& watcher : watchers_) {
    // "+switch-master <name> <old ip> <old port> <new ip> <new port>": a failover finished.
    // The message says where, but the answer with the highest epoch decides, as always.
    watcher->subscribe("+switch-master", [this](const std::string& payload) {
      std::istringstream words(payload);
      std::string name;
      words >> name;
      if (name == settings_.master_name) refresh("+switch-master " + payload);
    });
    // A switch announced while this watcher was away is caught by asking again.
    watcher->on_resubscribed([this] { refresh("a sentinel subscription (re)started"); });
    watcher->start();
  }
  for (auto& query : queries_)
    query->start();
  arm_refresh(retry_unknown);
}

void sentinel_locator::stop() {
  if (stopped_) return;
  stopped_ = true;
  refresh_timer_.cancel();
  for (auto& watcher : watchers_)
    watcher->stop();
  for (auto& query : queries_)
    query->stop();
}

std::size_t sentinel_locator::sentinels_ready() const {
  std::size_t ready = 0;
  for (const auto& query : queries_)
    ready += query->ready() ? 1 : 0;
  return ready;
}

void sentinel_locator::on_ready(std::size_t) {
  if (!master_) refresh("a sentinel connection is ready");
}

void sentinel_locator::refresh(const std::string& why) {
  if (stopped_) return;
  log::debug("redis", "asking the sentinels for the master", {{"why", why}});
  if (asking_) {
    ask_again_ = true;
    return;
  }
  auto since = clock::now() - last_round_;
  arm_refresh(since >= min_round_gap
                  ? milliseconds(0)
                  : std::chrono::duration_cast<milliseconds>(min_round_gap - since));
}

void sentinel_locator::arm_refresh(milliseconds after) {
  // Only ever pulls the next round earlier; a round re-arms for the regular period.
  auto wake = clock::now() + after;
  if (refresh_armed_ && refresh_wake_ <= wake) return;
  refresh_armed_ = true;
  refresh_wake_ = wake;
  auto sequence = ++refresh_sequence_;
  refresh_timer_.expires_at(wake);
  auto self = shared_from_this();
  refresh_timer_.async_wait([this, self, sequence](const boost::system::error_code& ec) {
    if (sequence != refresh_sequence_ || stopped_) return;
    refresh_armed_ = false;
    if (!ec) ask();
  });
}

void sentinel_locator::ask() {
  if (asking_) {
    ask_again_ = true;
    return;
  }
  std::vector<redis_connection*> ready;
  for (auto& query : queries_)
    if (query->ready()) ready.push_back(query.get());
  if (ready.empty()) {
    // No sentinel to ask now; on_ready asks as soon as one connects.
    arm_refresh(master_ ? settings_.sentinel_refresh : retry_unknown);
    return;
  }
  asking_ = true;
  struct round {
    std::vector<std::optional<master_view>> views;
    std::size_t left = 0;
  };
  auto state = std::make_shared<round>();
  state->views.resize(ready.size());
  state->left = ready.size();
  auto formatted = format_command({"SENTINEL", "MASTER", settings_.master_name});
  auto deadline = clock::now() + settings_.connect_timeout;
  auto self = shared_from_this();
  for (std::size_t i = 0; i < ready.size(); ++i)
    ready[i]->send(
        formatted,
        [this, self, state, i](redis_reply reply) {
          state->views[i] = parse_master_view(reply);
          if (--state->left == 0 && !stopped_) on_answers(std::move(state->views));
        },
        deadline);
}

void sentinel_locator::on_answers(std::vector<std::optional<master_view>> views) {
  asking_ = false;
  last_round_ = clock::now();
  const master_view* best = nullptr;
  std::size_t answered = 0;
  for (const auto& view : views) {
    if (!view) continue;
    ++answered;
    if (best == nullptr || view->config_epoch > best->config_epoch) best = &*view;
  }
  if (best == nullptr) {
    if (!warned_unknown_)
      log::warn("redis", "no sentinel names the master",
                {{"master", settings_.master_name}, {"sentinels", std::to_string(views.size())}});
    warned_unknown_ = true;
    arm_refresh(retry_unknown);
  } else {
    warned_unknown_ = false;
    bool moved = !master_ || master_->host != best->host || master_->port != best->port;
    if (moved) {
      if (master_) counters_.add(counters_.master_switches);
      log::info("redis", master_ ? "sentinels name a new master" : "sentinels name the master",
                {{"master", settings_.master_name},
                 {"address", best->host + ":" + std::to_string(best->port)},
                 {"config_epoch", std::to_string(best->config_epoch)},
                 {"answered", std::to_string(answered) + "/" + std::to_string(views.size())}});
    }
    master_ = *best;
    if (moved) {
      auto endpoint = settings_.endpoint;
      endpoint.host = best->host;
      endpoint.port = best->port;
      for (auto& handler : handlers_)
        handler(endpoint);
    }
    arm_refresh(settings_.sentinel_refresh);
  }
  if (ask_again_) {
    ask_again_ = false;
    refresh("asked during the last round");
  }
}

} // namespace baton::redis_link
