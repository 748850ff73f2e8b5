// Membership; see membership_service.hpp.
#include "services/membership/membership_service.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>

#include "actors/support/ask_from_reactor.hpp"
#include "common/log.hpp"

namespace baton::membership {

using redis_link::redis_reply;
using redis_link::reply_kind;

membership_service::membership_service(boost::asio::io_context& io, redis_link::redis_pool& redis,
                                       membership_settings settings)
    : io_(io), redis_(redis), settings_(std::move(settings)),
      records_key_(node_records_key(settings_.prefix)), seen_key_(node_seen_key(settings_.prefix)),
      channel_(node_events_channel(settings_.prefix)) {}

void membership_service::use_actors(caf::actor_system& system, redis_link::redis_link_actor link) {
  system_ = &system;
  heartbeat_settings beat;
  beat.prefix = settings_.prefix;
  beat.node_id = settings_.node_id;
  beat.run_id = settings_.run_id;
  beat.address = settings_.address;
  beat.version = settings_.version;
  beat.heartbeat = settings_.heartbeat;
  beat.ttl = settings_.ttl;
  beat.started_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                        std::chrono::system_clock::now().time_since_epoch())
                        .count();
  beat.sessions = sessions_;
  heartbeat_ = spawn_membership(system, std::move(link), std::move(beat));
}

void membership_service::start(redis_link::redis_subscriber& events) {
  events.subscribe(channel_, [this](const std::string& payload) {
    auto space = payload.find(' ');
    if (space == std::string::npos || !handler_) return;
    auto rest = payload.substr(space + 1);
    auto second = rest.find(' ');
    handler_({payload.substr(0, space), rest.substr(0, second),
              second == std::string::npos ? std::string() : rest.substr(second + 1)});
  });
}

void membership_service::drain(std::function<void(bool)> done) {
  draining_ = true;
  if (!heartbeat_) return done(false);
  actors::ask_from_reactor<bool>(*system_, io_, heartbeat_, settings_.heartbeat + milliseconds(2000),
                                 [done = std::move(done)](std::optional<bool> ok) {
                                   done(ok.value_or(false));
                                 },
                                 atoms::drain::value);
}

void membership_service::leave(std::function<void()> done) {
  if (!heartbeat_) return done();
  auto heartbeat = std::move(heartbeat_);
  actors::ask_from_reactor<bool>(*system_, io_, heartbeat, milliseconds(6000),
                                 [done = std::move(done)](std::optional<bool>) { done(); },
                                 atoms::leave::value);
}

void membership_service::list(
    const std::string& one, std::function<void(bool, std::vector<node_record>, std::string)> done) {
  auto call = node_list_call(settings_.prefix, settings_.ttl.count(), one);
  redis_.run_script(call.name, call.keys, call.args, [done = std::move(done)](redis_reply r) {
    std::vector<node_record> nodes;
    std::string why;
    bool ok = parse_node_list(r, nodes, why);
    done(ok, std::move(nodes), std::move(why));
  });
}

} // namespace baton::membership
