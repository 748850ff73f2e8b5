// Membership; see membership_service.hpp.
#include "services/membership/membership_service.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>

#include "common/log.hpp"

namespace baton::membership {

using redis_link::redis_reply;
using redis_link::reply_kind;

std::string node_events_channel(const std::string& prefix) {
  return prefix + ":node-events";
}

membership_service::membership_service(boost::asio::io_context& io, redis_link::redis_pool& redis,
                                       membership_settings settings)
    : redis_(redis), settings_(std::move(settings)),
      records_key_(settings_.prefix + ":{nodes}"), seen_key_(settings_.prefix + ":{nodes}:seen"),
      channel_(node_events_channel(settings_.prefix)), timer_(io),
      started_ms_(std::chrono::duration_cast<std::chrono::milliseconds>(
                      std::chrono::system_clock::now().time_since_epoch())
                      .count()) {}

void membership_service::start(redis_link::redis_subscriber& events) {
  events.subscribe(channel_, [this](const std::string& payload) {
    auto space = payload.find(' ');
    if (space == std::string::npos || !handler_) return;
    auto rest = payload.substr(space + 1);
    auto second = rest.find(' ');
    handler_({payload.substr(0, space), rest.substr(0, second),
              second == std::string::npos ? std::string() : rest.substr(second + 1)});
  });
  beat();
  arm();
}

void membership_service::arm() {
  timer_.expires_after(settings_.heartbeat);
  timer_.async_wait([this](const boost::system::error_code& ec) {
    if (ec || stopped_) return;
    beat();
    arm();
  });
}

std::string membership_service::record_json() const {
  nlohmann::json record = {{"address", settings_.address},
                           {"version", settings_.version},
                           {"state", draining_ ? "draining" : "active"},
                           {"sessions", sessions_ ? sessions_() : 0},
                           {"started_ms", started_ms_},
                           {"run_id", settings_.run_id}};
  return record.dump();
}

void membership_service::beat(std::function<void(bool)> done) {
  redis_.run_script(
      "node_heartbeat", {records_key_, seen_key_},
      {settings_.node_id, record_json(), std::to_string(settings_.ttl.count()), channel_,
       draining_ ? "draining" : "active"},
      [this, done = std::move(done)](redis_reply r) {
        bool ok = r.kind == reply_kind::array && r.elements.size() >= 2;
        if (ok != reachable_) {
          reachable_ = ok;
          if (ok)
            log::info("membership", "heartbeats reach redis again");
          else
            log::warn("membership", "heartbeat failed; other daemons drop this node after the ttl",
                      {{"why", r.str}});
        }
        if (ok && r.elements[1].integer == 1)
          log::info("membership", "joined the fleet", {{"node", settings_.node_id}});
        if (ok)
          for (std::size_t i = 2; i < r.elements.size(); ++i)
            log::info("membership", "swept out a node whose heartbeats stopped",
                      {{"node", r.elements[i].str}});
        if (done) done(ok);
      },
      settings_.heartbeat);
}

void membership_service::drain(std::function<void(bool)> done) {
  draining_ = true;
  beat(std::move(done));
}

void membership_service::leave(std::function<void()> done) {
  stopped_ = true;
  timer_.cancel();
  redis_.run_script("node_leave", {records_key_, seen_key_}, {settings_.node_id, channel_},
                    [done = std::move(done)](redis_reply) { done(); });
}

void membership_service::list(
    const std::string& one, std::function<void(bool, std::vector<node_record>, std::string)> done) {
  redis_.run_script(
      "node_list", {records_key_, seen_key_}, {std::to_string(settings_.ttl.count()), one},
      [done = std::move(done)](redis_reply r) {
        std::vector<node_record> nodes;
        if (r.kind != reply_kind::array || r.elements.empty())
          return done(false, {}, r.str.empty() ? "unexpected reply from redis" : r.str);
        for (std::size_t i = 1; i + 2 < r.elements.size(); i += 3) {
          node_record n;
          n.id = r.elements[i].str;
          n.heartbeat_age_ms = r.elements[i + 1].integer;
          auto record = nlohmann::json::parse(r.elements[i + 2].str, nullptr, false);
          if (record.is_object()) {
            n.address = record.value("address", "");
            n.version = record.value("version", "");
            n.state = record.value("state", "");
            n.run_id = record.value("run_id", "");
            n.sessions = record.value("sessions", std::int64_t{0});
            n.started_ms = record.value("started_ms", std::int64_t{0});
          }
          nodes.push_back(std::move(n));
        }
        std::sort(nodes.begin(), nodes.end(),
                  [](const node_record& x, const node_record& y) { return x.id < y.id; });
        done(true, std::move(nodes), {});
      });
}

} // namespace baton::membership
