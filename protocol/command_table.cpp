// The command table; see command_table.hpp. Grammar and replies: protocol/API.md.
#include "protocol/command_table.hpp"

#include <algorithm>

namespace baton::protocol {

const std::vector<command_spec>& command_table() {
  static const std::vector<command_spec> table = {
      {"PING", "", -1, command_id::ping, "ping", "Answers PONG, or echoes its argument", true},
      {"ECHO", "", 2, command_id::echo, "echo", "Answers its argument"},
      {"HELLO", "", -1, command_id::hello, "hello", "Chooses RESP2 or RESP3, names the client",
       true},
      {"QUIT", "", -1, command_id::quit, "quit", "Answers OK and closes the connection", true},
      {"INFO", "", -1, command_id::info, "info", "Node, version, uptime, Redis link, counts"},
      {"CLIENT", "SETNAME", 3, command_id::client_setname, "client", "Names this connection"},
      {"CLIENT", "GETNAME", 2, command_id::client_getname, "client", "This connection's name"},
      {"CLIENT", "ID", 2, command_id::client_id, "client", "This connection's id"},
      {"CLIENT", "INFO", 2, command_id::client_info, "client",
       "This connection's id, name, protocol and peer credentials"},
      {"COMMAND", "", -1, command_id::command_list, "command", "Describes every command"},
      {"COMMAND", "COUNT", 2, command_id::command_count, "command", "Number of commands"},
      {"COMMAND", "INFO", -2, command_id::command_info, "command", "Describes named commands"},
      {"COMMAND", "DOCS", -2, command_id::command_docs, "command", "Command summaries"},
      {"DEBUG", "RTT", 2, command_id::debug_rtt, "debug",
       "Runs a script on Redis through the link; answers Redis TIME and the round trip"},
      {"LEASE", "ACQUIRE", -4, command_id::lease_acquire, "lease",
       "Takes a lease with a fencing token, or says who holds it"},
      {"LEASE", "RENEW", -4, command_id::lease_renew, "lease", "Extends a lease its holder holds"},
      {"LEASE", "RELEASE", -4, command_id::lease_release, "lease",
       "Gives a lease back (FORCE: an admin gives back another uid's)"},
      {"LEASE", "INFO", 3, command_id::lease_info, "lease", "Who holds a lease, and for how long"},
      {"LEASE", "LIST", -2, command_id::lease_list, "lease",
       "Names of leases held (or in lock-delay), optionally matching a glob pattern"},
      {"LEASE", "WATCH", -3, command_id::lease_watch, "lease",
       "Pushes acquired, released, expired and lost events of the named leases", true},
      {"LEASE", "UNWATCH", -2, command_id::lease_unwatch, "lease",
       "Stops watching the named leases (all, without names)", true},
      {"ELECT", "JOIN", -4, command_id::elect_join, "elect",
       "Waits until this connection leads the group; answers the term"},
      {"ELECT", "LEADER", 3, command_id::elect_leader, "elect", "The group's leader and term"},
      {"ELECT", "RESIGN", 3, command_id::elect_resign, "elect",
       "Gives up this connection's leadership of the group"},
      {"ELECT", "WATCH", -3, command_id::elect_watch, "elect",
       "Pushes the groups' leader now and on every change, with the term", true},
      {"ELECT", "UNWATCH", -2, command_id::elect_unwatch, "elect",
       "Stops watching the named groups (all, without names)", true},
      {"RATE", "CHECK", -4, command_id::rate_check, "rate",
       "Checks and charges every window of a policy for a key: allowed, remaining, reset, "
       "retry-after"},
      {"RATE", "PEEK", -4, command_id::rate_peek, "rate",
       "What RATE CHECK would answer, without charging"},
      {"RATE", "RESET", 4, command_id::rate_reset, "rate",
       "Clears a key's counts on every daemon (admin)", false, true},
      {"DEDUP", "CLAIM", 4, command_id::dedup_claim, "dedup",
       "Claims an idempotency key: new for the first caller, else pending or done with the "
       "result"},
      {"DEDUP", "DONE", -4, command_id::dedup_done, "dedup",
       "Stores the result of a claimed key for its later duplicates"},
      {"DEDUP", "GET", 3, command_id::dedup_get, "dedup", "The state and result of a key"},
      {"SECRET", "GET", 3, command_id::secret_get, "secret",
       "The current version's value, from this daemon's memory"},
      {"SECRET", "VERIFY", 4, command_id::secret_verify, "secret",
       "Which version a candidate matches (current, or previous within its grace window), "
       "compared in constant time"},
      {"SECRET", "INFO", 3, command_id::secret_info, "secret",
       "Versions, states, rotation times, fleet-wide uses and which node runs which version; "
       "never values"},
      {"SECRET", "PUT", 4, command_id::secret_put, "secret",
       "Makes a value the current version at once (admin)"},
      {"SECRET", "ROTATE", -3, command_id::secret_rotate, "secret",
       "Rotates: a new version (generated, from the hook, or VALUE v) becomes current and the "
       "old one previous for its grace window (admin)"},
      {"SECRET", "REWRAP", -2, command_id::secret_rewrap, "secret",
       "Re-wraps the data keys of one or all secrets under the active KEK (admin)"},
      {"SECRET", "WATCH", -3, command_id::secret_watch, "secret",
       "Pushes 'secret rotated <name> <version> <epoch>' when this daemon starts serving a new "
       "version",
       true},
      {"SECRET", "UNWATCH", -2, command_id::secret_unwatch, "secret",
       "Stops watching the named secrets (all, without names)", true},
      {"SESSION", "OPEN", -3, command_id::session_open, "session",
       "Opens a session for a user (server-made id) and answers its resume token"},
      {"SESSION", "GET", 3, command_id::session_get, "session",
       "A session's user, owner, epoch, meta and times"},
      {"SESSION", "TOUCH", 3, command_id::session_touch, "session",
       "Keeps a session alive for another ttl"},
      {"SESSION", "CLOSE", 3, command_id::session_close, "session",
       "Closes a session; its tokens stop working"},
      {"SESSION", "LIST", 3, command_id::session_list, "session",
       "The live sessions of a user across the fleet"},
      {"SESSION", "STATE", -3, command_id::session_state_op, "session",
       "Reads a session's state, or SET writes it (on its owner node, encrypted at rest)"},
      {"SESSION", "RESUME", 3, command_id::session_resume, "session",
       "Takes a session over with a resume token (once per token); answers its state"},
      {"SESSION", "WATCH", 2, command_id::session_watch, "session",
       "Pushes handoff-out (with the new token) and handoff-in for this node's sessions", true},
      {"SESSION", "UNWATCH", 2, command_id::session_unwatch, "session", "Stops the session pushes",
       true},
      {"NODE", "LIST", 2, command_id::node_list, "node",
       "The live daemons of the fleet: address, version, state, sessions, last heartbeat"},
      {"NODE", "INFO", -2, command_id::node_info, "node",
       "One daemon's record (default: this one)"},
      {"NODE", "DRAIN", -2, command_id::node_drain, "node",
       "Marks this daemon draining: /readyz turns 503 at once, the drain is announced (admin)",
       false, true},
      {"BREAKER", "CHECK", 3, command_id::breaker_check, "breaker",
       "May a call go now? Answered from this host's memory: allowed, state, probe, next probe"},
      {"BREAKER", "REPORT", -4, command_id::breaker_report, "breaker",
       "Feeds a finished call (ok, fail or slow, with its latency) to the breaker's window"},
      {"BREAKER", "STATE", 3, command_id::breaker_state, "breaker",
       "This host's window and state, and the fleet's: who tripped it, trips, counts, probe"},
      {"BREAKER", "LIST", 2, command_id::breaker_list, "breaker",
       "Every breaker this daemon keeps, with its state"},
      {"BREAKER", "FORCE", 4, command_id::breaker_force, "breaker",
       "Forces a breaker open or closed on every daemon, or gives it back (auto) (admin)",
       false, true},
      {"BREAKER", "WATCH", -3, command_id::breaker_watch, "breaker",
       "Pushes the breakers' state now and on every change, with its generation", true},
      {"BREAKER", "UNWATCH", -2, command_id::breaker_unwatch, "breaker",
       "Stops watching the named breakers (all, without names)", true},
      {"STATE", "GET", 4, command_id::state_get, "state",
       "A namespace's entry: value, version and ms left"},
      {"STATE", "SET", -5, command_id::state_set, "state",
       "Writes an entry (TTL ms; IFABSENT or IFVERSION v: compare-and-set); answers its version"},
      {"STATE", "DEL", -4, command_id::state_del, "state",
       "Deletes an entry (IFVERSION v: only that version)"},
      {"STATE", "EXISTS", 4, command_id::state_exists, "state", "Whether an entry exists"},
      {"STATE", "TTL", 4, command_id::state_ttl, "state",
       "An entry's ms left: -1 without expiry, -2 without the entry"},
      {"STATE", "GETDEL", 4, command_id::state_getdel, "state",
       "Reads an entry and deletes it in the same step"},
      {"STATE", "MGET", -4, command_id::state_mget, "state",
       "Reads entries: one Redis call per slot, not per key"},
      {"STATE", "MSET", -5, command_id::state_mset, "state",
       "Writes entries (each slot's in one step); answers their versions"},
      {"STATE", "MDEL", -4, command_id::state_mdel, "state", "Deletes entries"},
      {"STATE", "SCAN", -3, command_id::state_scan, "state",
       "Lists a namespace's keys (with a prefix) a page at a time: [PREFIX] [CURSOR c] [COUNT n]"},
      {"STATE", "COUNT", 3, command_id::state_count, "state",
       "Counts a namespace's entries (a full SCAN in batches)"},
      {"STATE", "CLEAR", 3, command_id::state_clear, "state",
       "Deletes every entry of a namespace (admin)", false, true},
      {"STATE", "RESTORE", -7, command_id::state_restore, "state",
       "Writes entries exactly as exported: key value version ttl_ms ... (admin)", false, true},
      {"CACHE", "GET", 4, command_id::cache_get, "cache",
       "A cached value: from this daemon's near cache, else Redis; says which, and if degraded"},
      {"CACHE", "SET", -5, command_id::cache_set, "cache",
       "Caches a value (TTL ms) and drops it from every daemon's near cache"},
      {"CACHE", "DEL", 4, command_id::cache_del, "cache",
       "Deletes a cached value, on Redis and in every near cache"},
      {"CACHE", "INVALIDATE", -4, command_id::cache_invalidate, "cache",
       "Deletes cached values by key, or PATTERN p (a glob), everywhere"},
      {"CACHE", "STATS", -2, command_id::cache_stats, "cache",
       "Near-cache hits, misses, evictions, invalidations and bytes, per namespace"},
      {"EVENTS", "PUBLISH", -4, command_id::events_publish, "events",
       "Appends an event to a topic's stream (DEDUP key: once per key); answers its id"},
      {"EVENTS", "READ", -5, command_id::events_read, "events",
       "Events after an id, in order (COUNT n, BLOCK ms): resume on any daemon from the last id"},
      {"EVENTS", "GROUP", -5, command_id::events_group, "events",
       "Consumer groups: CREATE (FROM $|0|id), READ, ACK, CLAIM (from a consumer gone quiet)"},
      {"EVENTS", "WATCH", -3, command_id::events_watch, "events",
       "Pushes 'event <topic> <id> <payload>' for every event after an id (FROM; default $)",
       true},
      {"EVENTS", "UNWATCH", -2, command_id::events_unwatch, "events",
       "Stops the named topics' pushes (all, without names)", true},
      {"SUBSCRIBE", "", -2, command_id::subscribe, "subscribe",
       "Redis pub/sub: lease:<name>, elect:<group>, breaker:<name>, events:<topic>, sessions",
       true},
      {"UNSUBSCRIBE", "", -1, command_id::unsubscribe, "subscribe",
       "Stops the named channels (all, without names)", true},
  };
  return table;
}

std::string to_upper(std::string_view text) {
  std::string result(text);
  for (auto& c : result)
    if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
  return result;
}

std::string to_lower(std::string_view text) {
  std::string result(text);
  for (auto& c : result)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  return result;
}

std::string full_name(const command_spec& spec) {
  if (spec.verb.empty()) return std::string(spec.name);
  return std::string(spec.name) + " " + std::string(spec.verb);
}

namespace {

bool arity_ok(int arity, std::size_t argc) {
  return arity > 0 ? argc == static_cast<std::size_t>(arity)
                   : argc >= static_cast<std::size_t>(-arity);
}

std::string unknown_command_error(const std::vector<std::string>& args) {
  // Same text as Redis, shortened so that a huge argument cannot make a huge error.
  std::string text =
      "ERR unknown command '" + args[0].substr(0, 128) + "', with args beginning with: ";
  for (std::size_t i = 1; i < args.size() && i < 4; ++i)
    text += "'" + args[i].substr(0, 64) + "' ";
  return text;
}

} // namespace

lookup_result lookup_command(const std::vector<std::string>& args) {
  const auto& table = command_table();
  std::string name = to_upper(args.at(0));
  auto first = std::find_if(table.begin(), table.end(),
                            [&](const command_spec& c) { return c.name == name; });
  if (first == table.end())
    return {lookup_status::unknown_command, nullptr, unknown_command_error(args)};
  // A plain command (no verb) of that name, e.g. COMMAND with no arguments.
  const command_spec* plain = nullptr;
  if (first->verb.empty()) plain = &*first;
  if (args.size() >= 2) {
    std::string verb = to_upper(args[1]);
    for (auto it = first; it != table.end(); ++it) {
      if (it->name == name && it->verb == verb) {
        if (!arity_ok(it->arity, args.size()))
          return {lookup_status::wrong_arity, &*it,
                  "ERR wrong number of arguments for '" + to_lower(full_name(*it)) + "' command"};
        return {lookup_status::found, &*it, {}};
      }
    }
  }
  if (plain != nullptr) {
    bool only_plain = std::none_of(table.begin(), table.end(), [&](const command_spec& c) {
      return c.name == name && !c.verb.empty();
    });
    if (only_plain || args.size() == 1) {
      if (!arity_ok(plain->arity, args.size()))
        return {lookup_status::wrong_arity, plain,
                "ERR wrong number of arguments for '" + to_lower(name) + "' command"};
      return {lookup_status::found, plain, {}};
    }
  }
  if (args.size() < 2)
    return {lookup_status::wrong_arity, &*first,
            "ERR wrong number of arguments for '" + to_lower(name) + "' command"};
  return {lookup_status::unknown_verb, &*first,
          "ERR unknown subcommand '" + args[1].substr(0, 64) + "'. Try " + name + " HELP."};
}

} // namespace baton::protocol
