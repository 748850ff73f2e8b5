// One run of a script of lua/ as a value: its name, KEYS, ARGV and an optional budget. Actors
// describe the Redis work they want as script calls and hand them to the link actor; the
// request path hands the same values to the pool. A value crosses mailboxes, a callback can't.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

namespace baton::redis_link {

struct script_call {
  std::string name;               ///< a script of lua/, without ".lua"
  std::vector<std::string> keys;  ///< KEYS
  std::vector<std::string> args;  ///< ARGV
  std::int64_t budget_ms = 0;     ///< 0: the link's call budget; else this one (a renewal
                                  ///< has until its lease lapses, not the usual budget)

  std::chrono::milliseconds budget() const { return std::chrono::milliseconds(budget_ms); }
};

/// Every message type needs inspect for CAF; a call is plain data.
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, script_call& x) {
  return f(x.name, x.keys, x.args, x.budget_ms);
}

} // namespace baton::redis_link
