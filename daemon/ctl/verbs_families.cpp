// One request, one reply: a verb per family command; see verbs.hpp. Each builds its RESP
// command from its arguments and prints the reply as JSON or for a person (a few with a
// printer of their own: the node table, a secret's versions).
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <iterator>

#include "daemon/ctl/verbs.hpp"

namespace baton::ctl {
namespace {

using builder = std::function<std::vector<std::string>(const verb_args&)>;
using printer = std::function<void(const json&)>;
using outcome = std::function<int(const json&)>;

/// A verb that sends what `build` makes and prints the reply (`empty` for nil); `exit_of`
/// judges a reply that is not an error (default: exit 0).
verb_spec request(std::vector<std::string> words, std::string arguments, std::string summary,
                  std::size_t min, std::size_t max, std::vector<flag_spec> flags, builder build,
                  std::string empty = "none", printer human = nullptr, outcome exit_of = nullptr) {
  // NODE DRAIN WAIT answers after the handoff deadline (10 s by default), past --timeout.
  int extra_ms = words.back() == "drain" ? 60000 : 0;
  verb_spec spec{
      std::move(words), std::move(arguments), std::move(summary), min, max, std::move(flags), false,
      nullptr};
  spec.run = [build = std::move(build), empty = std::move(empty), human = std::move(human),
              exit_of = std::move(exit_of), extra_ms](const options& o, const verb_args& a) {
    auto args = build(a);
    auto client = connect(o, a.has("--wait") ? extra_ms : 0);
    json reply;
    if (!call(*client, args, o, reply)) return exit_error;
    if (human && !o.as_json && !reply.is_null())
      human(reply);
    else
      print_reply(reply, o, empty);
    return exit_of ? exit_of(reply) : exit_ok;
  };
  return spec;
}

/// The positional arguments after a fixed start: {"LEASE", "INFO"} + NAME.
builder with(std::vector<std::string> start) {
  return [start = std::move(start)](const verb_args& a) {
    auto args = start;
    args.insert(args.end(), a.positional.begin(), a.positional.end());
    return args;
  };
}

void print_cache_stats(const json& spaces) {
  std::printf("%-20s %10s %10s %10s %7s %10s %9s %12s\n", "NAMESPACE", "NEAR HITS", "REDIS HITS",
              "MISSES", "NEAR %", "EVICTIONS", "ENTRIES", "KIB USED/MAX");
  for (const auto& s : spaces)
    std::printf("%-20s %10lld %10lld %10lld %6.1f%% %10lld %9lld %5lld/%-6lld\n",
                text(s["namespace"]).c_str(), s.value("near_hits", 0LL),
                s.value("redis_hits", 0LL), s.value("misses", 0LL),
                100.0 * std::atof(text(s["near_hit_ratio"]).c_str()), s.value("evictions", 0LL),
                s.value("entries", 0LL), s.value("bytes", 0LL) / 1024,
                s.value("max_bytes", 0LL) / 1024);
}

void print_nodes(const json& nodes) {
  std::printf("%-20s %-24s %-9s %-10s %8s %10s\n", "NODE", "ADDRESS", "VERSION", "STATE",
              "SESSIONS", "HEARTBEAT");
  for (const auto& n : nodes)
    std::printf("%-20s %-24s %-9s %-10s %8lld %8lldms%s\n", text(n["id"]).c_str(),
                text(n["address"]).c_str(), text(n["version"]).c_str(), text(n["state"]).c_str(),
                n.value("sessions", 0LL), n.value("heartbeat_ms_ago", 0LL),
                n.value("self", 0) == 1 ? "  (this one)" : "");
}

void print_drain(const json& out) {
  std::cout << "node " << text(out["node"]) << " is draining"
            << (out.value("announced", 0) == 1 ? "" : " (not announced yet: redis did not answer)")
            << "\n";
}

void print_secret_info(const json& out) {
  std::cout << "secret " << text(out["name"]) << ": current v" << text(out["current"])
            << (out.value("pending", 0) != 0 ? ", pending v" + text(out["pending"]) : "")
            << ", epoch " << text(out["epoch"]) << "\n";
  for (const auto& v : out["versions"])
    std::cout << "  v" << text(v["version"]) << "  " << text(v["state"]) << "  kek "
              << text(v["kek"]) << "  uses " << text(v["uses"]) << "\n";
  for (const auto& n : out["nodes"])
    std::cout << "  node " << text(n["node"]) << " serves v" << text(n["version"]) << " (acked "
              << text(n["acked_ms_ago"]) << " ms ago)\n";
}

void print_rewrap(const json& out) {
  std::cout << "rewrapped " << out.value("rewrapped", 0) << " data keys; "
            << out.value("already", 0) << " already under the active KEK; "
            << out.value("failed", 0) << " failed\n";
}

/// A secret's value from --file PATH ("-": standard input, one trailing newline dropped) or
/// the positional VALUE; a value on the command line shows in `ps`, so the file is preferred.
std::string secret_value(const verb_args& a, std::size_t position, bool required) {
  if (a.has("--file")) {
    if (a.positional.size() > position) throw usage_error("give the value or --file, not both");
    auto path = a.get("--file");
    std::string value;
    if (path == "-") {
      value.assign(std::istreambuf_iterator<char>(std::cin), {});
    } else {
      std::ifstream in(path, std::ios::binary);
      if (!in) throw usage_error("cannot read " + path);
      value.assign(std::istreambuf_iterator<char>(in), {});
    }
    if (!value.empty() && value.back() == '\n') value.pop_back();
    // An empty file is a mistake (a failed pipe), never "no value" (rotate would make one).
    if (value.empty()) throw usage_error(path + " holds no value");
    return value;
  }
  if (a.positional.size() > position) return a.positional[position];
  if (required) throw usage_error("missing the value: VALUE or --file PATH");
  return {};
}

const flag_spec file_flag{"--file", "PATH", "read the value from PATH (- for standard input)"};

} // namespace

std::vector<verb_spec> family_verbs() {
  std::vector<verb_spec> v;
  // -- nodes ---------------------------------------------------------------------------------
  v.push_back(request({"node", "list"}, "", "the live daemons of the fleet", 0, 0, {},
                      with({"NODE", "LIST"}), "none", print_nodes));
  v.push_back(request({"nodes"}, "", "the live daemons of the fleet (node list)", 0, 0, {},
                      with({"NODE", "LIST"}), "none", print_nodes));
  v.push_back(request({"node", "info"}, "[ID]", "one daemon (default: this one)", 0, 1, {},
                      with({"NODE", "INFO"}), "not a live node"));
  auto drain = [](const verb_args& a) {
    std::vector<std::string> args{"NODE", "DRAIN"};
    if (a.has("--wait")) args.push_back("WAIT");
    return args;
  };
  const flag_spec wait_drain{"--wait", "", "answer once the sessions moved"};
  v.push_back(request({"node", "drain"}, "",
                      "mark this daemon draining: /readyz 503 at once, sessions move (admin)", 0, 0,
                      {wait_drain}, drain, "none", print_drain));
  v.push_back(request({"drain"}, "", "mark this daemon draining (node drain)", 0, 0, {wait_drain},
                      drain, "none", print_drain));
  // -- leases and elections ------------------------------------------------------------------
  v.push_back(request({"lease", "info"}, "NAME", "who holds a lease, its token and time left", 1, 1,
                      {}, with({"LEASE", "INFO"}), "free"));
  v.push_back(request({"lease", "list"}, "[PATTERN]",
                      "names of the leases held or in lock-delay (glob, default *)", 0, 1, {},
                      with({"LEASE", "LIST"})));
  v.push_back(
      request({"lease", "release"}, "NAME TOKEN",
              "release a lease under its token (--force: an admin releases another uid's lease)", 2,
              2, {{"--force", "", "release another uid's lease (admin)"}}, [](const verb_args& a) {
                std::vector<std::string> args{"LEASE", "RELEASE", a.positional[0], a.positional[1]};
                if (a.has("--force")) args.push_back("FORCE");
                return args;
              }));
  v.push_back(request({"elect", "leader"}, "GROUP", "who leads a group, under which term", 1, 1, {},
                      with({"ELECT", "LEADER"}), "nobody leads"));
  // -- rate limits and idempotency -----------------------------------------------------------
  auto rate = [](const char* verb) {
    return [verb](const verb_args& a) {
      std::vector<std::string> args{"RATE", verb, a.positional[0], a.positional[1]};
      if (a.has("--cost"))
        args.insert(args.end(), {"COST", std::to_string(a.number("--cost", 1, 1, 1000000))});
      return args;
    };
  };
  const flag_spec cost{"--cost", "N", "the request counts N times (default 1)"};
  v.push_back(request({"rate", "check"}, "POLICY KEY", "check and charge a rate limit", 2, 2,
                      {cost}, rate("CHECK")));
  v.push_back(request({"rate", "peek"}, "POLICY KEY", "what a check would answer, charging nothing",
                      2, 2, {cost}, rate("PEEK")));
  v.push_back(request({"rate", "reset"}, "POLICY KEY", "forget a key's counts (1: it had some)", 2,
                      2, {}, with({"RATE", "RESET"})));
  v.push_back(request({"dedup", "get"}, "KEY", "an idempotency key's status and stored result", 1,
                      1, {}, with({"DEDUP", "GET"}), "absent"));
  // -- the near cache --------------------------------------------------------------------------
  v.push_back(request({"cache", "get"}, "NS KEY",
                      "a cached value: from this daemon's near cache or Redis, and if degraded", 2,
                      2, {}, with({"CACHE", "GET"}), "absent"));
  v.push_back(request({"cache", "set"}, "NS KEY VALUE", "cache a value everywhere", 3, 3,
                      {{"--ttl", "MS", "expire after MS (default: the namespace's ttl_ms)"}},
                      [](const verb_args& a) {
                        std::vector<std::string> args{"CACHE", "SET", a.positional[0],
                                                      a.positional[1], a.positional[2]};
                        if (a.has("--ttl"))
                          args.insert(args.end(), {"TTL", std::to_string(a.number(
                                                              "--ttl", 0, 1, 1LL << 50))});
                        return args;
                      }));
  v.push_back(request({"cache", "invalidate"}, "NS KEY...",
                      "drop cached values from Redis and every near cache (--pattern: KEY is a "
                      "glob)",
                      2, 1000, {{"--pattern", "", "the one KEY is a glob pattern"}},
                      [](const verb_args& a) {
                        std::vector<std::string> args{"CACHE", "INVALIDATE", a.positional[0]};
                        if (a.has("--pattern")) {
                          if (a.positional.size() != 2)
                            throw usage_error("--pattern takes one pattern");
                          args.push_back("PATTERN");
                        }
                        args.insert(args.end(), a.positional.begin() + 1, a.positional.end());
                        return args;
                      }));
  v.push_back(request({"cache", "stats"}, "[NS]",
                      "this daemon's near-cache hits, misses, evictions and bytes", 0, 1, {},
                      with({"CACHE", "STATS"}), "none", print_cache_stats));
  // -- events --------------------------------------------------------------------------------
  v.push_back(request({"events", "publish"}, "TOPIC PAYLOAD", "append an event; prints its id", 2,
                      2,
                      {{"--dedup", "KEY",
                        "once per KEY within events.dedup_window_ms: again answers the first id"}},
                      [](const verb_args& a) {
                        std::vector<std::string> args{"EVENTS", "PUBLISH", a.positional[0],
                                                      a.positional[1]};
                        if (a.has("--dedup")) args.insert(args.end(), {"DEDUP", a.get("--dedup")});
                        return args;
                      }));
  v.push_back(request({"events", "read"}, "TOPIC",
                      "events after an id, in order (--from ID, default 0: the oldest kept)", 1, 1,
                      {{"--from", "ID", "after this id (0: the oldest kept, $: only new)"},
                       {"--count", "N", "at most N events (default 100)"},
                       {"--block", "MS", "wait up to MS for the first, if none yet"}},
                      [](const verb_args& a) {
                        std::vector<std::string> args{"EVENTS", "READ", a.positional[0], "FROM",
                                                      a.get("--from", "0")};
                        if (a.has("--count"))
                          args.insert(args.end(), {"COUNT", std::to_string(a.number(
                                                                "--count", 100, 1, 100000))});
                        if (a.has("--block"))
                          args.insert(args.end(), {"BLOCK", std::to_string(a.number(
                                                                "--block", 0, 0, 3600000))});
                        return args;
                      },
                      "no events"));
  v.push_back(request({"events", "group"}, "TOPIC GROUP",
                      "make a consumer group (--from $: new events only, the default; 0: all)", 2,
                      2, {{"--from", "ID", "where the group starts: $, 0 or an id"}},
                      [](const verb_args& a) {
                        return std::vector<std::string>{"EVENTS",        "GROUP",
                                                        "CREATE",        a.positional[0],
                                                        a.positional[1], "FROM",
                                                        a.get("--from", "$")};
                      }));
  // -- secrets -------------------------------------------------------------------------------
  v.push_back(request({"secret", "get"}, "NAME", "a secret's current value and version", 1, 1, {},
                      with({"SECRET", "GET"}), "no such secret"));
  v.push_back(request({"secret", "verify"}, "NAME [CANDIDATE]",
                      "does CANDIDATE match a live version (current, or previous in its grace)?", 1,
                      2, {file_flag}, [](const verb_args& a) {
                        return std::vector<std::string>{"SECRET", "VERIFY", a.positional[0],
                                                        secret_value(a, 1, true)};
                      }));
  v.push_back(request({"secret", "info"}, "NAME",
                      "versions, states, uses and the nodes serving them (never values)", 1, 1, {},
                      with({"SECRET", "INFO"}), "no such secret", print_secret_info));
  v.push_back(request(
      {"secret", "put"}, "NAME [VALUE]", "store a new current version (admin)", 1, 2, {file_flag},
      [](const verb_args& a) {
        return std::vector<std::string>{"SECRET", "PUT", a.positional[0], secret_value(a, 1, true)};
      }));
  v.push_back(request(
      {"secret", "rotate"}, "NAME [VALUE]",
      "rotate through staging, hooks and promotion; without a value batond makes one (admin)", 1, 2,
      {file_flag}, [](const verb_args& a) {
        std::vector<std::string> args{"SECRET", "ROTATE", a.positional[0]};
        auto value = secret_value(a, 1, false);
        if (!value.empty()) args.insert(args.end(), {"VALUE", value});
        return args;
      }));
  v.push_back(request({"secret", "rewrap"}, "[NAME]",
                      "re-wrap data keys under the active KEK, without downtime (admin)", 0, 1, {},
                      with({"SECRET", "REWRAP"}), "none", print_rewrap, [](const json& out) {
                        return out.value("failed", 0) > 0 ? exit_error : exit_ok;
                      }));
  // -- sessions ------------------------------------------------------------------------------
  v.push_back(request({"session", "get"}, "ID", "a session: user, owner node, epoch, times", 1, 1,
                      {}, with({"SESSION", "GET"}), "no such session"));
  v.push_back(request({"session", "list"}, "USER", "a user's live sessions across the fleet", 1, 1,
                      {}, with({"SESSION", "LIST"})));
  v.push_back(request({"session", "close"}, "ID", "end a session (1: closed, 0: no such session)",
                      1, 1, {}, with({"SESSION", "CLOSE"})));
  // -- breakers ------------------------------------------------------------------------------
  v.push_back(request({"breaker", "list"}, "", "every breaker this daemon keeps, with its state", 0,
                      0, {}, with({"BREAKER", "LIST"})));
  v.push_back(request({"breaker", "state"}, "NAME", "a breaker's state, window and fleet view", 1,
                      1, {}, with({"BREAKER", "STATE"})));
  v.push_back(request({"breaker", "force"}, "NAME open|closed|auto",
                      "pin a breaker open or closed fleet-wide, or give it back (admin)", 2, 2, {},
                      with({"BREAKER", "FORCE"})));
  return v;
}

} // namespace baton::ctl
