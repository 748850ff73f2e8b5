// Deliberate bugs for the chaos harness; see chaos_bugs.hpp. Each is an edit of one Lua
// script, the unit of every Redis-side decision, so the daemon's C++ runs unchanged.
#include "common/chaos_bugs.hpp"

#include <cstdlib>
#include <stdexcept>

namespace baton::chaos_bugs {
namespace {

struct edit {
  const char* bug;
  const char* what; ///< the promise it breaks (for a reader of this table)
  const char* script;
  const char* find;
  const char* replace;
};

const edit edits[] = {
    {"lease-renew-skips-token",
     "LEASE RENEW extends whoever holds the lease, without checking owner and token",
     "lease_renew",
     "if current[1] ~= ARGV[1] or current[2] ~= ARGV[2] then return {0, 'not-holder'} end", ""},
    {"lease-token-unfenced",
     "fencing tokens are a bare INCR of the fence key: a Redis that lost its data starts over",
     "lease_acquire",
     "local token = math.max(tonumber(redis.call('GET', KEYS[2]) or '0'), tonumber(ARGV[7])) + 1\n"
     "if token < now then token = now end",
     "local token = tonumber(redis.call('GET', KEYS[2]) or '0') + 1"},
    {"session-move-skips-epoch",
     "a handoff moves a session without checking its owner and epoch",
     "session_move",
     "if s[1] ~= ARGV[1] or s[2] ~= ARGV[2] then return {0, 'fenced', s[1], tonumber(s[2])} end",
     ""},
    {"rate-charges-first-window",
     "RATE CHECK (gcra) charges only the first window of a policy",
     "rate_gcra",
     "if allowed then tat = tat + cost * emission[i] end",
     "if allowed and i == 1 then tat = tat + cost * emission[i] end"},
};

} // namespace

const std::vector<std::string>& enabled() {
  static const std::vector<std::string> names = [] {
    std::vector<std::string> out;
    const char* text = std::getenv("BATON_CHAOS_BUGS");
    std::string word;
    for (const char* c = text ? text : ""; ; ++c) {
      if (*c == ',' || *c == '\0') {
        if (!word.empty()) out.push_back(word);
        word.clear();
        if (*c == '\0') break;
      } else {
        word += *c;
      }
    }
    return out;
  }();
  return names;
}

std::string apply(std::string_view script, std::string body) {
  for (const auto& name : enabled()) {
    bool exists = false;
    for (const auto& e : edits) {
      if (name != e.bug) continue;
      exists = true;
      if (script != e.script) continue;
      auto at = body.find(e.find);
      if (at == std::string::npos)
        throw std::runtime_error("chaos bug '" + name + "': its text is no longer in lua/" +
                                 std::string(script) + ".lua");
      body.replace(at, std::char_traits<char>::length(e.find), e.replace);
    }
    if (!exists) {
      std::string list;
      for (const auto& e : edits)
        list += std::string(list.empty() ? "" : ", ") + e.bug;
      throw std::runtime_error("unknown chaos bug '" + name + "' in BATON_CHAOS_BUGS; known: " +
                               list);
    }
  }
  return body;
}

} // namespace baton::chaos_bugs
