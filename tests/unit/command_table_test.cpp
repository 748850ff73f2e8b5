// Command lookup (names, verbs, arity, errors as Redis words them) and the API reference
// in protocol/API.md kept in step with the table.
#include <catch2/catch.hpp>

#include <fstream>
#include <regex>
#include <set>
#include <sstream>

#include "protocol/command_table.hpp"

using namespace baton::protocol;

TEST_CASE("commands are found case-insensitively, with their verbs") {
  auto r = lookup_command({"client", "setname", "x"});
  REQUIRE(r.status == lookup_status::found);
  CHECK(r.spec->id == command_id::client_setname);
  CHECK(lookup_command({"PiNg"}).spec->id == command_id::ping);
  CHECK(lookup_command({"ping", "hello"}).status == lookup_status::found);
  CHECK(lookup_command({"COMMAND"}).spec->id == command_id::command_list);
  CHECK(lookup_command({"COMMAND", "COUNT"}).spec->id == command_id::command_count);
}

TEST_CASE("errors read like Redis' own") {
  auto unknown = lookup_command({"NOPE", "a", "b"});
  CHECK(unknown.status == lookup_status::unknown_command);
  CHECK(unknown.error == "ERR unknown command 'NOPE', with args beginning with: 'a' 'b' ");
  auto arity = lookup_command({"ECHO"});
  CHECK(arity.status == lookup_status::wrong_arity);
  CHECK(arity.error == "ERR wrong number of arguments for 'echo' command");
  auto verb = lookup_command({"CLIENT", "KILL"});
  CHECK(verb.status == lookup_status::unknown_verb);
  CHECK(verb.error == "ERR unknown subcommand 'KILL'. Try CLIENT HELP.");
  CHECK(lookup_command({"CLIENT"}).status == lookup_status::wrong_arity);
  CHECK(lookup_command({"CLIENT", "SETNAME"}).status == lookup_status::wrong_arity);
}

TEST_CASE("a huge unknown command name makes a short error") {
  auto r = lookup_command({std::string(100000, 'x')});
  CHECK(r.error.size() < 400);
}

TEST_CASE("protocol/API.md documents exactly the commands in the table") {
  std::ifstream in(std::string(BATON_SOURCE_DIR) + "/protocol/API.md");
  REQUIRE(in);
  std::stringstream text;
  text << in.rdbuf();
  std::set<std::string> documented;
  std::regex heading(R"(^### `([A-Z]+(?: [A-Z]+)?)`)");
  std::string line;
  while (std::getline(text, line)) {
    std::smatch m;
    if (std::regex_search(line, m, heading)) documented.insert(m[1]);
  }
  std::set<std::string> implemented;
  for (const auto& spec : command_table())
    implemented.insert(full_name(spec));
  CHECK(documented == implemented);
}
