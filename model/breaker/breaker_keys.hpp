// The Redis keys and channel of breakers (lua/breaker_*.lua). One breaker's keys share the
// hash tag {name}, so they land in one Redis Cluster slot and one script may touch them all;
// the announcements of every breaker go through one channel every daemon follows.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "model/breaker/breaker_machine.hpp"

namespace baton::breaker {

struct breaker_keys {
  std::string state;  ///< "<prefix>:breaker:{<name>}": state, generation, open_until, ...
  std::string trips;  ///< "...:trips": node -> when it last tripped (ms), within the window
  std::string probe;  ///< "...:probe": the node holding the half-open probe (with a TTL)
  std::string counts; ///< "...:counts": node -> "calls failures slow at_ms"
};

breaker_keys keys_for(const std::string& prefix, const std::string& name);

/// "state <name> <state> <generation> <node> <open_ms> <consecutive trips>" on this channel.
std::string events_channel(const std::string& prefix);

/// One announcement, parsed.
struct breaker_announcement {
  std::string name;
  breaker_state state = breaker_state::closed;
  std::int64_t generation = 0;
  std::string node;
  std::int64_t open_ms = 0;
  int trips = 0;
};

/// nullopt for anything that is not an announcement of the shape above.
std::optional<breaker_announcement> parse_announcement(std::string_view payload);

} // namespace baton::breaker
