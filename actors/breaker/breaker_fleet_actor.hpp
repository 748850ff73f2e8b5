// The fleet side of this daemon's circuit breakers. CHECK and REPORT are answered on the
// reactor from each breaker's state machine (model/breaker), with no round trip; what the
// fleet must learn, and what this host must learn from the fleet, goes through this actor:
//   - a trip of a `fleet` or `quorum` breaker is counted in Redis (lua/breaker_trip), which
//     opens it everywhere at once (fleet) or once enough hosts tripped (quorum);
//   - a breaker open fleet-wide probes from one host at a time: when its open time is over
//     this actor asks for the probe (lua/breaker_probe) and keeps asking while another host
//     holds it, so that a prober that vanished is replaced once its probe's TTL ran out;
//   - the holder's probe result closes or re-opens it everywhere (lua/breaker_settle);
//   - every announcement (from any daemon) and every state read at start or after a
//     reconnect is handed to the reactor to adopt, newest generation wins;
//   - this host's windows are written to Redis once per sync interval (BREAKER STATE).
// It lives across time (retries, TTLs, intervals), so it is an actor; it decides nothing a
// breaker machine decides.
#pragma once

#include <caf/actor_system.hpp>
#include <caf/replies_to.hpp>
#include <caf/typed_actor.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "actors/redis_link/redis_link_actor.hpp"
#include "model/breaker/breaker_machine.hpp"
#include "protocol/atoms.hpp"

namespace baton::breaker {

/// What the fleet side needs to know of one breaker's policy.
struct fleet_rules {
  std::string name;
  std::int32_t hosts_needed = 1; ///< hosts whose trips open it fleet-wide (1: scope fleet)
  std::int64_t window_ms = 60000; ///< quorum: trips older than this do not count
  std::int64_t open_ms = 60000;
  double backoff = 1;
  std::int64_t max_open_ms = 600000;
  std::int64_t probe_ttl_ms = 10000;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, fleet_rules& x) {
  return f(x.name, x.hosts_needed, x.window_ms, x.open_ms, x.backoff, x.max_open_ms,
           x.probe_ttl_ms);
}

/// This host's breaker moved; what the fleet should do follows from where it went and why.
struct breaker_move {
  enum class kind : std::int32_t {
    tripped,      ///< closed -> open by its own window: count the trip
    probe_due,    ///< open -> half-open: ask for the probe
    probe_passed, ///< this host's probe succeeded: close it everywhere
    probe_failed, ///< this host's probe failed: re-open it everywhere
    settled,      ///< anything else (closed, forced): stop asking for the probe
  };
  fleet_rules rules;
  std::int32_t what = 0; ///< a kind (an int, so that the message needs no enum inspector)
  std::int64_t generation_floor = 0;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, breaker_move& x) {
  return f(x.rules, x.what, x.generation_floor);
}

/// One breaker's window on this host, for BREAKER STATE's counts per node.
struct breaker_count {
  std::string name;
  std::int64_t calls = 0, failures = 0, slow = 0;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, breaker_count& x) {
  return f(x.name, x.calls, x.failures, x.slow);
}

/// What the actor tells the breaker service (through `fleet_settings::tell`), in order.
struct fleet_news {
  enum class kind {
    adopt,         ///< the fleet's state of `name`: adopt `shared` if it is newer
    probe_granted, ///< this host holds `name`'s probe for `probe_ttl`, in the half-open
                   ///< period `shared` (adopt it first)
    collect,       ///< send this host's windows (counts, [breaker_count])
  };
  kind what = kind::adopt;
  std::string name;
  shared_state shared;
  std::chrono::milliseconds probe_ttl{0};
};

struct fleet_settings {
  std::string prefix = "baton";
  std::string node_id = "node";
  /// How often this host's windows are written, and the TTL of what it wrote (x5).
  std::chrono::milliseconds sync_interval{1000};
  /// How often a host that wants the probe asks again while another holds it (at most).
  std::chrono::milliseconds probe_retry{1000};
  /// Runs on the actor's thread with what one message brought; the daemon posts it onto the
  /// reactor in one hop.
  std::function<void(std::vector<fleet_news>)> tell;
};

/// The actor's protocol:
///   (moved, breaker_move)       this host's breaker moved (see breaker_move::kind)
///   (announce, payload)         a message of the breakers' channel, from any daemon
///   (sync, [fleet_rules])       read these breakers' fleet state and tell it (start, reconnect)
///   (counts, [breaker_count])   the windows asked for with `collect`: write them
///   (timer_tick, generation)    internal: a probe retry or the sync interval is due
using breaker_fleet_actor =
    caf::typed_actor<caf::reacts_to<atoms::moved, breaker_move>,
                     caf::reacts_to<atoms::announce, std::string>,
                     caf::reacts_to<atoms::sync, std::vector<fleet_rules>>,
                     caf::reacts_to<atoms::counts, std::vector<breaker_count>>,
                     caf::reacts_to<atoms::timer_tick, std::uint64_t>>;

breaker_fleet_actor spawn_breaker_fleet(caf::actor_system& system,
                                        redis_link::redis_link_actor link,
                                        fleet_settings settings);

} // namespace baton::breaker
