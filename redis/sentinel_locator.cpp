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

bool event_is_about(const std::string& payload, const std::string& master_name) {
  // "master <name> <ip> <port>", or "<type> <name> <ip> <port> @ <master> <ip> <port>".
  std::istringstream in(payload);
  std::vector<std::string> words;
  for (std::string w; in >> w;)
    words.push_back(w);
  if (words.size() >= 2 && words[0] == "master") return words[1] == master_name;
  for (std::size_t i = 0; i + 1 < words.size(); ++i)
    if (words[i] == "@") return words[i + 1] == master_name;
  return false;
}

const master_view* choose_master(const std::vector<std::optional<master_view>>& views,
                                 const std::optional<master_view>& current, std::size_t sentinels) {
  const master_view* best = nullptr;
  auto is_current = [&](const master_view& v) {
    return current && v.host == current->host && v.port == current->port;
  };
  for (const auto& view : views) {
    if (!view) continue;
    // A sentinel that lags (cut off, or not told yet) names an older epoch: never go back to
    // it. On equal epochs the master in use stays.
    if (current && view->config_epoch < current->config_epoch) continue;
    if (best == nullptr || view->config_epoch > best->config_epoch ||
        (view->config_epoch == best->config_epoch && is_current(*view) && !is_current(*best)))
      best = &*view;
  }
  if (best != nullptr) return best;
  // Every answer is older than what we knew. Only a majority that agrees on one address is
  // believed then: the sentinels were redeployed and their epochs started again.
  const master_view* agreed = nullptr;
  std::size_t answered = 0;
  for (const auto& view : views) {
    if (!view) continue;
    ++answered;
    if (agreed == nullptr)
      agreed = &*view;
    else if (agreed->host != view->host || agreed->port != view->port)
      return nullptr;
  }
  return answered > sentinels / 2 ? agreed : nullptr;
}

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
    : io_(io), settings_(settings), counters_(counters), hold_timer_(io), refresh_timer_(io) {
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
  for (std::size_t index = 0; index < watchers_.size(); ++index) {
    auto& watcher = watchers_[index];
    // "+switch-master <name> <old ip> <old port> <new ip> <new port>": a failover finished.
    // The message says where, but the answer with the highest epoch decides, as always.
    watcher->subscribe("+switch-master", [this](const std::string& payload) {
      std::istringstream words(payload);
      std::string name;
      words >> name;
      if (name == settings_.master_name) refresh("+switch-master " + payload);
    });
    // The failover's leader announces each step. From the moment it selects the replica to
    // promote, the old master is about to stop being one while it still takes writes, and the
    // replica not promoted still acknowledges them (WAIT) until it is moved: writes there are
    // lost (measured: a second of them). So calls hold from here to the new master.
    watcher->subscribe("+failover-state-select-slave", [this, index](const std::string& payload) {
      if (event_is_about(payload, settings_.master_name))
        hold("+failover-state-select-slave", index);
    });
    // The replica is a master now: the leader names it, so the calls can go there.
    watcher->subscribe("+promoted-slave", [this](const std::string& payload) {
      if (event_is_about(payload, settings_.master_name)) refresh("+promoted-slave " + payload);
    });
    for (const char* abort : {"-failover-abort-not-elected", "-failover-abort-no-good-slave",
                              "-failover-abort-slave-timeout", "+failover-end-for-timeout"})
      // Only the leader's abort ends the hold: another sentinel's -failover-abort-not-elected
      // says nothing of the failover the leader is still running.
      watcher->subscribe(abort, [this, abort, index](const std::string& payload) {
        if (!event_is_about(payload, settings_.master_name)) return;
        if (holding_ && index != hold_leader_) return;
        release(abort);
        refresh(abort);
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
  hold_timer_.cancel();
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
  if (!master_ || refresh_wanted_) refresh("a sentinel connection is ready");
}

void sentinel_locator::hold(const std::string& why, std::size_t leader) {
  if (stopped_ || settings_.sentinel_failover_hold.count() == 0) return; // 0: never hold
  hold_leader_ = leader;
  if (!holding_) {
    holding_ = true;
    counters_.add(counters_.failover_holds);
    log::info("redis", "a failover started: calls wait for the new master",
              {{"master", settings_.master_name}, {"event", why}});
    for (auto& handler : hold_handlers_)
      handler(true);
  }
  // If the switch never comes (a sentinel died half way), ask again and go on after this long.
  hold_timer_.expires_after(settings_.sentinel_failover_hold);
  auto self = shared_from_this();
  auto sequence = ++hold_sequence_;
  hold_timer_.async_wait([this, self, sequence](const boost::system::error_code& ec) {
    // An expiry already queued when the hold was re-armed or released is not this hold's.
    if (ec || stopped_ || !holding_ || sequence != hold_sequence_) return;
    release("no new master within redis.sentinel_failover_hold_ms");
    refresh("the failover hold ran out");
  });
}

void sentinel_locator::release(const std::string& why) {
  if (!holding_) return;
  holding_ = false;
  ++hold_sequence_;
  hold_timer_.cancel();
  log::info("redis", "calls go on", {{"master", settings_.master_name}, {"why", why}});
  for (auto& handler : hold_handlers_)
    handler(false);
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
    refresh_wanted_ = true;
    arm_refresh(master_ ? settings_.sentinel_refresh : retry_unknown);
    return;
  }
  refresh_wanted_ = false;
  asking_ = true;
  struct round {
    std::vector<std::optional<master_view>> views;
    std::size_t left = 0;
  };
  auto state = std::make_shared<round>();
  state->views.resize(ready.size());
  state->left = ready.size();
  // Two questions per sentinel, pipelined: MASTER for the config epoch, and
  // GET-MASTER-ADDR-BY-NAME for the address, which the failover's leader changes to the
  // promoted replica as soon as it is promoted (MASTER keeps the old one until the last
  // replica is moved, a second later). The leader has the new epoch by then, so it wins.
  auto master = format_command({"SENTINEL", "MASTER", settings_.master_name});
  auto address = format_command({"SENTINEL", "GET-MASTER-ADDR-BY-NAME", settings_.master_name});
  auto deadline = clock::now() + settings_.connect_timeout;
  auto self = shared_from_this();
  for (std::size_t i = 0; i < ready.size(); ++i) {
    ready[i]->send(
        master, [state, i](redis_reply reply) { state->views[i] = parse_master_view(reply); },
        deadline);
    ready[i]->send(
        address,
        [this, self, state, i](redis_reply reply) {
          // Without its address the view is dropped: MASTER's address is the old one while the
          // leader reconfigures the replicas, under the new epoch, and would win.
          auto& view = state->views[i];
          bool addressed = false;
          if (view && reply.kind == reply_kind::array && reply.elements.size() == 2) {
            try {
              long port = std::stol(reply.elements[1].str);
              if (port >= 1 && port <= 65535 && !reply.elements[0].str.empty()) {
                view->host = reply.elements[0].str;
                view->port = static_cast<unsigned short>(port);
                addressed = true;
              }
            } catch (const std::exception&) {
            }
          }
          if (!addressed) view.reset();
          if (--state->left == 0 && !stopped_) on_answers(std::move(state->views));
        },
        deadline);
  }
}

void sentinel_locator::on_answers(std::vector<std::optional<master_view>> views) {
  asking_ = false;
  last_round_ = clock::now();
  auto best = choose_master(views, master_, settings_.sentinels.size());
  std::size_t answered = 0;
  for (const auto& view : views)
    answered += view ? 1 : 0;
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
      release("the new master is known");
    }
    arm_refresh(settings_.sentinel_refresh);
  }
  if (ask_again_) {
    ask_again_ = false;
    refresh("asked during the last round");
  }
}

} // namespace baton::redis_link
