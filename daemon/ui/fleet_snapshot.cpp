// The fleet page's document; see fleet_snapshot.hpp.
#include "daemon/ui/fleet_snapshot.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <utility>

#include "build_info.hpp"
#include "daemon/redis_health_view.hpp"
#include "model/breaker/breaker_machine.hpp"
#include "model/caller.hpp"
#include "model/membership/node_list.hpp"
#include "services/breaker/breaker_service.hpp"
#include "services/lease/lease_service.hpp"
#include "services/membership/membership_service.hpp"
#include "services/secret/secret_service.hpp"

namespace baton::ui {
namespace {

using json = nlohmann::json;

// Elections hold their leadership as the lease "elect:<group>" (services/lease/elect_commands).
constexpr std::string_view election_prefix = "elect:";

std::int64_t unix_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string topology_of(const daemon_context& ctx) {
  if (ctx.redis.clustered()) return "cluster";
  if (ctx.cfg.redis.url.find("-sentinel://") != std::string::npos) return "sentinel";
  return "single";
}

// A holder as the page shows it: who (node and uid) and the fence, never the lease's meta
// or the holder's pid and client name, which are the holder's own business.
json holder_json(const std::string& name, const lease::lease_holder& h) {
  return {{"name", name},
          {"state", h.state},
          {"token", h.token},
          {"remaining_ms", h.remaining_ms},
          {"node", h.node},
          {"uid", h.uid}};
}

// A leader: its candidate name is public to the group (ELECT LEADER), and the term is the
// fencing token of the lease "elect:<group>".
json leader_json(const std::string& lease_name, const lease::lease_holder& h) {
  auto out = holder_json(lease_name.substr(election_prefix.size()), h);
  out["candidate"] = h.meta;
  return out;
}

json node_json(const membership::node_record& n) {
  return {{"id", n.id},
          {"address", n.address},
          {"version", n.version},
          {"state", n.state},
          {"sessions", n.sessions},
          {"started_ms", n.started_ms},
          {"heartbeat_age_ms", n.heartbeat_age_ms}};
}

json secret_json(const std::string& name, const secret::secret_info& info) {
  json versions = json::array();
  for (const auto& [number, v] : info.record.versions)
    versions.push_back({{"version", number},
                        {"state", v.state},
                        {"created_ms", v.created_ms},
                        {"promoted_ms", v.promoted_ms},
                        {"grace_until_ms", v.grace_until_ms},
                        {"uses", info.uses.count(number) ? info.uses.at(number) : 0}});
  json nodes = json::array();
  for (const auto& n : info.nodes)
    nodes.push_back({{"node", n.node}, {"version", n.version}, {"age_ms", n.age_ms}});
  return {{"name", name},
          {"current", info.record.current},
          {"pending", info.record.pending},
          {"epoch", info.record.epoch},
          {"rotated_at_ms", info.record.rotated_at_ms},
          {"versions", std::move(versions)},
          {"nodes", std::move(nodes)}};
}

} // namespace

// One gather: the document as it fills, and how many parts are still out. Each part's
// callback holds the gather; the last one to finish hands the document on.
struct fleet_snapshot::gather {
  std::shared_ptr<fleet_snapshot> owner;
  json doc;
  std::size_t pending = 1; // the starting part itself, so that no part finishes it early

  void error(const std::string& part, const std::string& why) { doc["errors"][part] = why; }
  void done() {
    if (--pending > 0) return;
    // The reads answer in any order; the page lists each part by name.
    for (const char* part : {"leases", "leaders", "secrets"})
      std::sort(doc[part].begin(), doc[part].end(),
                [](const json& a, const json& b) { return a["name"] < b["name"]; });
    owner->finish(doc.dump());
  }
};

fleet_snapshot::fleet_snapshot(daemon_context& ctx, std::chrono::milliseconds fresh_for)
    : ctx_(ctx), fresh_for_(fresh_for) {}

void fleet_snapshot::get(reply done) {
  if (!last_.empty() && clock::now() - last_at_ < fresh_for_) return done(last_);
  waiting_.push_back(std::move(done));
  if (!gathering_) start();
}

void fleet_snapshot::finish(const std::string& json) {
  gathering_ = false;
  last_ = json;
  last_at_ = clock::now();
  auto waiting = std::move(waiting_);
  waiting_.clear();
  for (auto& w : waiting)
    w(last_);
}

void fleet_snapshot::start() {
  gathering_ = true;
  auto g = std::make_shared<gather>();
  g->owner = shared_from_this();
  g->doc = {{"generated_ms", unix_ms()},
            {"errors", json::object()},
            {"self",
             {{"id", ctx_.cfg.node_id},
              {"version", baton::version},
              {"uptime_s", ctx_.uptime_seconds()},
              {"ready", ctx_.ready()},
              {"draining", ctx_.draining.load()},
              {"clients", ctx_.requests.connected_clients.load()},
              {"commands", ctx_.commands_processed.load()}}}};

  // Redis: the link as this node sees it, and a round trip measured now.
  auto status = ctx_.redis.status();
  g->doc["redis"] = {{"topology", topology_of(ctx_)},
                     {"endpoint", status.endpoint},
                     {"reachable", status.reachable()},
                     {"connections", status.connections},
                     {"ready_connections", status.ready},
                     {"breaker", redis_link::breaker_state_name(status.breaker)},
                     {"last_error", status.last_error},
                     {"primaries", ctx_.link.cluster_primaries.load()},
                     {"timeouts", ctx_.link.timeouts.load()},
                     {"reconnects", ctx_.link.reconnects.load()},
                     {"failovers", ctx_.link.master_switches.load()},
                     {"rtt_us", nullptr},
                     {"health", redis_health_json(ctx_.redis_health.get(), unix_ms())}};
  ++g->pending;
  auto sent = clock::now();
  ctx_.redis.call({"PING"}, [g, sent](redis_link::redis_reply r) {
    if (r.is_error())
      g->error("redis", r.str);
    else
      g->doc["redis"]["rtt_us"] =
          std::chrono::duration_cast<std::chrono::microseconds>(clock::now() - sent).count();
    g->done();
  });

  g->doc["nodes"] = json::array();
  if (ctx_.members) {
    ++g->pending;
    ctx_.members->list("", [g](bool ok, std::vector<membership::node_record> nodes,
                               std::string why) {
      if (!ok) g->error("nodes", why);
      for (const auto& n : nodes)
        g->doc["nodes"].push_back(node_json(n));
      g->done();
    });
  }

  // Leases, then each one's holder: a list of names, then one read each (an admin's view,
  // trimmed by holder_json). A lease released in between is simply left out.
  g->doc["leases"] = json::array();
  g->doc["leaders"] = json::array();
  g->doc["leases_truncated"] = false;
  if (ctx_.leases) {
    ++g->pending;
    auto* leases = ctx_.leases;
    leases->list("*", [g, leases](protocol::result<std::vector<std::string>> names) {
      if (!names) {
        g->error("leases", names.error().why);
        return g->done();
      }
      if (names->size() > max_leases) {
        g->doc["leases_truncated"] = true;
        names->resize(max_leases);
      }
      caller admin;
      admin.admin = true;
      for (const auto& name : *names) {
        ++g->pending;
        leases->info(name, admin, [g, name](protocol::result<lease::lease_info> info) {
          if (!info)
            g->error("lease " + name, info.error().why);
          else if (info->holder && name.rfind(election_prefix, 0) == 0)
            g->doc["leaders"].push_back(leader_json(name, *info->holder));
          else if (info->holder)
            g->doc["leases"].push_back(holder_json(name, *info->holder));
          g->done();
        });
      }
      g->done();
    });
  }

  g->doc["secrets"] = json::array();
  if (ctx_.secrets) {
    for (const auto& item : ctx_.secrets->config().items) {
      ++g->pending;
      auto name = item.name;
      ctx_.secrets->describe(name, [g, name](
                                       protocol::result<std::optional<secret::secret_info>> info) {
        if (!info)
          g->error("secret " + name, info.error().why);
        else if (*info)
          g->doc["secrets"].push_back(secret_json(name, **info));
        else
          g->doc["secrets"].push_back({{"name", name}, {"current", 0}});
        g->done();
      });
    }
  }

  g->doc["breakers"] = json::array();
  if (ctx_.breakers)
    for (const auto& [name, state] : ctx_.breakers->list())
      g->doc["breakers"].push_back({{"name", name}, {"state", breaker::state_name(state)}});

  g->done();
}

} // namespace baton::ui
