// The router dispatches through the command table: every command the table lists has a
// handler bound to it, and the commands that need an admin say so in the table (the router
// checks it once, before any handler runs).
#include <catch2/catch.hpp>

#include <set>

#include "daemon/command_handlers.hpp"

using namespace baton;

TEST_CASE("every command of the table has a handler") {
  for (const auto& spec : protocol::command_table()) {
    INFO(protocol::full_name(spec));
    CHECK(handler_for(spec.id) != nullptr);
  }
}

TEST_CASE("the admin commands are marked in the table") {
  std::set<std::string> admin;
  for (const auto& spec : protocol::command_table())
    if (spec.admin) admin.insert(protocol::full_name(spec));
  CHECK(admin == std::set<std::string>{"BREAKER FORCE", "NODE DRAIN", "RATE RESET", "STATE CLEAR",
                                        "STATE RESTORE"});
}
