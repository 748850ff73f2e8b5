// Circuit breakers as this daemon's clients see them: BREAKER CHECK and REPORT answered from
// each breaker's state machine in memory (model/breaker), never a Redis round trip; STATE,
// LIST and FORCE. What the fleet must learn (a trip, a probe, its result) is handed to the
// fleet actor (actors/breaker), and what the fleet decided comes back as news to adopt, the
// newest generation winning. With Redis unreachable every breaker keeps deciding on this
// host's own data, and says so (`degraded`).
//
// Runs on the I/O thread, like the other services.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

#include "actors/breaker/breaker_fleet_actor.hpp"
#include "model/breaker/breaker_machine.hpp"
#include "model/breaker/breaker_policy.hpp"
#include "protocol/result.hpp"
#include "redis/redis_pool.hpp"
#include "redis/redis_subscriber.hpp"

namespace baton::breaker {

struct breaker_settings {
  std::string prefix = "baton";
  std::string node_id = "node";
  breakers_config config;
  /// Breakers this daemon keeps (named ones and those made from the default policy); past it,
  /// a new name is refused rather than growing memory without bound.
  std::size_t max_breakers = 10000;
};

/// The daemon's own breaker around Redis, shown read-only under this name.
inline constexpr const char* redis_breaker_name = "baton:redis";

using protocol::result;

/// REPORT's answer: the call was counted (or, while open or forced, ignored and counted so).
struct reported {};

/// FORCE's answer.
struct forced {
  breaker_state state = breaker_state::closed;
  std::int64_t generation = 0;
};

/// CHECK's answer.
struct check_answer {
  bool allowed = false;
  breaker_state state = breaker_state::closed;
  bool probe = false;              ///< admitted as the half-open probe: REPORT its result
  std::int64_t next_probe_ms = -1; ///< when it may next admit a probe; -1: not scheduled
  std::int64_t generation = 0;
  bool degraded = false; ///< Redis unreachable: deciding on this host's data alone
  /// Open or half-open fleet-wide (decided through Redis); false when closed, or open on this
  /// host's data alone (it tripped while Redis was out of reach, or a quorum not reached).
  bool fleet = false;
};

/// The fleet's view of one breaker, as Redis has it (STATE).
struct fleet_view {
  std::string state = "closed";
  std::int64_t generation = 0;
  std::int64_t open_remaining_ms = 0;
  std::string tripped_by;
  std::int64_t tripped_ago_ms = -1; ///< -1: never tripped
  std::int64_t consecutive_trips = 0;
  std::string probe_holder;
  std::vector<std::pair<std::string, std::int64_t>> trips; ///< node, ms ago (quorum window)
  std::vector<std::pair<std::string, std::string>> counts; ///< node, "calls failures slow"
};

/// STATE's answer: this host's machine and, when Redis answered, the fleet's view.
struct breaker_view {
  std::string name;
  std::string scope;
  breaker_state state = breaker_state::closed;
  std::int64_t generation = 0;
  window_totals window;
  std::string tripped_by;
  int consecutive_trips = 0;
  int probes_out = 0;
  breaker_counters counters;
  bool degraded = false;
  std::optional<fleet_view> fleet; ///< nullopt: Redis did not answer
};

class breaker_service {
public:
  using clock = std::chrono::steady_clock;

  breaker_service(
      redis_link::redis_pool& redis, breaker_settings settings,
      std::function<clock::time_point()> now = [] { return clock::now(); });

  /// Starts the fleet side as an actor of `system` reaching Redis through `link`, its news
  /// posted onto `io`; until then (and after stop) breakers decide on this host alone.
  void use_fleet(caf::actor_system& system, redis_link::redis_link_actor link,
                 boost::asio::io_context& io, fleet_settings settings);
  /// Follows the announcements of every daemon; re-reads the fleet's state on a reconnect.
  void listen(redis_link::redis_subscriber& events);
  void stop();
  /// The fleet actor, for the daemon to stop with the others (also when it never served).
  caf::actor_addr fleet_address() const { return fleet_.address(); }

  /// CHECK: ERR for an unknown name (no policy, no default), a bad or reserved one, or one
  /// past max_breakers.
  result<check_answer> check(const std::string& name);
  /// REPORT: ERR as for check, and for the reserved name. In half-open, a report while this
  /// host's probe is out settles the probe.
  result<reported> report(const std::string& name, outcome what,
                          std::optional<std::chrono::milliseconds> latency);
  /// STATE: this host's view of `name` with the fleet's from Redis (or ERR as for check).
  void state(const std::string& name, std::function<void(result<breaker_view>)> done);
  /// WATCH: whether `name` is a breaker (made from the default policy if need be), with its
  /// state and generation now; nullopt with `error` as for check. Admits nothing.
  result<std::pair<breaker_state, std::int64_t>> peek(const std::string& name);
  /// LIST: every breaker this daemon keeps, sorted, with the reserved one first.
  std::vector<std::pair<std::string, breaker_state>> list();
  /// FORCE (admin): pins `name` on every daemon, or gives it back (auto), once Redis has it
  /// (and this daemon applied it); UNAVAILABLE if the call never reached Redis, UNKNOWN if
  /// it was sent and neither it nor its one retry was answered.
  void force(const std::string& name, force_mode mode, const std::string& who,
             std::function<void(result<forced>)> done);
  /// Live daemons in the fleet, for quorum policies given as a fraction.
  void set_live_hosts(int hosts);
  /// Keeps the live count fresh with `count` (it answers through its callback) every `every`,
  /// if any policy's quorum is a fraction of the live hosts.
  void count_hosts_with(boost::asio::io_context& io,
                        std::function<void(std::function<void(int)>)> count,
                        std::chrono::milliseconds every);
  /// Runs on every change of a breaker's state here (local or adopted), for WATCH pushes.
  void on_change(std::function<void(const std::string& name, breaker_state, std::int64_t generation,
                                    const std::string& node)>
                     handler) {
    changed_ = std::move(handler);
  }

  /// Appends baton_breaker_* metrics (Prometheus text).
  void render_metrics(std::string& out) const;

private:
  struct entry {
    entry(breaker_policy p, std::string node) : machine(std::move(p), std::move(node)) {}
    breaker_machine machine;
    bool fleet_open = false;           ///< its open or half-open state came from the fleet
    clock::time_point probe_until{};   ///< this host holds the fleet's probe until then
    std::int64_t probe_generation = 0; ///< ... for the half-open period of this generation
    bool active = false;               ///< reported to since the last collect
  };

  result<entry*> find_or_create(const std::string& name);
  fleet_rules rules_of(const std::string& name, const breaker_policy& p) const;
  bool may_probe(const entry& e, clock::time_point now) const;
  /// After a transition here: tell the fleet what it must know, and watchers.
  void after(const std::string& name, entry& e, const transition& t, clock::time_point now);
  void on_news(std::vector<fleet_news> news);
  void adopt(const std::string& name, const shared_state& shared);
  void sync(const std::vector<std::string>& names);
  /// Tells the fleet of every fleet or quorum breaker open here on this host's data alone.
  void tell_lone_trips();
  check_answer redis_breaker_answer() const;

  redis_link::redis_pool& redis_;
  breaker_settings settings_;
  std::function<clock::time_point()> now_;
  std::unordered_map<std::string, std::unique_ptr<entry>> breakers_;
  breaker_fleet_actor fleet_;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
  int live_hosts_ = 0;           ///< 0: not counted yet
  std::set<std::string> warned_; ///< quorum policies already warned about
  int counts_taken_ = 0;
  std::unique_ptr<boost::asio::steady_timer> count_timer_;
  std::shared_ptr<std::function<void()>> count_tick_; ///< what the timer runs (it holds it weakly)
  std::function<void(const std::string&, breaker_state, std::int64_t, const std::string&)> changed_;
  struct counters {
    std::uint64_t checks = 0, allowed = 0, denied = 0, reports = 0, trips = 0, adopted = 0,
                  forced = 0, refused_names = 0;
  } counters_;
};

} // namespace baton::breaker
