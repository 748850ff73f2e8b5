// watch KIND [NAME...]: batond's events as they come, one line each (JSON lines with --json),
// until interrupted; see verbs.hpp. The events are the pushes of LEASE WATCH, ELECT WATCH,
// SESSION WATCH, SECRET WATCH and BREAKER WATCH (protocol/API.md), read on one connection.
#include <poll.h>

#include <chrono>
#include <ctime>
#include <iostream>

#include "daemon/ctl/verbs.hpp"

namespace baton::ctl {
namespace {

std::string now_text() {
  auto now = std::chrono::system_clock::now();
  auto t = std::chrono::system_clock::to_time_t(now);
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()) % 1000;
  std::tm utc{};
  gmtime_r(&t, &utc);
  char buf[32];
  std::strftime(buf, sizeof buf, "%H:%M:%S", &utc);
  char out[40];
  std::snprintf(out, sizeof out, "%s.%03d", buf, static_cast<int>(ms.count()));
  return out;
}

int watch(const options& o, const std::vector<std::string>& subscribe) {
  auto client = connect(o);
  json reply;
  if (!call(*client, subscribe, o, reply)) return exit_error;
  if (!o.as_json) std::cerr << "watching; Ctrl-C to stop\n";
  for (;;) {
    if (!client->buffered()) {
      pollfd fd{client->fd(), POLLIN, 0};
      if (poll(&fd, 1, -1) < 0 && errno != EINTR) return exit_unreachable;
    }
    resp_value event;
    try {
      event = client->read();
    } catch (const std::exception& e) {
      std::cerr << "batonctl: batond's connection broke: " << e.what() << "\n";
      return exit_unreachable;
    }
    if (event.kind != resp_value::type::push) continue; // a reply; pushes are the events
    auto value = to_json(event);
    if (o.as_json) {
      std::cout << json{{"time", now_text()}, {"event", value}}.dump() << std::endl;
    } else {
      std::string line = now_text();
      for (const auto& e : value)
        line += " " + (e.is_structured() ? e.dump() : text(e));
      std::cout << line << std::endl;
    }
  }
}

verb_spec watch_verb(std::vector<std::string> words, std::string arguments, std::string summary,
                     std::size_t min, std::vector<std::string> command) {
  return {std::move(words),
          std::move(arguments),
          std::move(summary),
          min,
          10000,
          {},
          false,
          [command = std::move(command)](const options& o, const verb_args& a) {
            auto args = command;
            args.insert(args.end(), a.positional.begin(), a.positional.end());
            return watch(o, args);
          }};
}

} // namespace

std::vector<verb_spec> watch_verbs() {
  return {
      watch_verb({"watch", "leases"}, "NAME [NAME...]",
                 "acquired, released, expired and lost, for the named leases", 1,
                 {"LEASE", "WATCH"}),
      watch_verb({"watch", "elect"}, "GROUP [GROUP...]", "leaders of the groups, as they change", 1,
                 {"ELECT", "WATCH"}),
      watch_verb({"elect", "watch"}, "GROUP [GROUP...]",
                 "leaders of the groups, as they change (watch elect)", 1, {"ELECT", "WATCH"}),
      {{"watch", "sessions"},
       "",
       "sessions this daemon hosts: handoffs, closes, resumes",
       0,
       0,
       {},
       false,
       [](const options& o, const verb_args&) {
         return watch(o, {"SESSION", "WATCH"});
       }},
      watch_verb({"watch", "secrets"}, "NAME [NAME...]", "rotations of the named secrets", 1,
                 {"SECRET", "WATCH"}),
      watch_verb({"watch", "breakers"}, "NAME [NAME...]", "state changes of the named breakers", 1,
                 {"BREAKER", "WATCH"}),
  };
}

} // namespace baton::ctl
