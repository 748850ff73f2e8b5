// What every batonctl verb shares: the exit codes scripts rely on, the global options, the
// connection to batond, and turning replies into JSON or into lines for a person.
#pragma once

#include <nlohmann/json.hpp>

#include <memory>
#include <string>
#include <vector>

#include "protocol/resp_client.hpp"

namespace baton::ctl {

using json = nlohmann::json;
using protocol::resp_client;
using protocol::resp_value;

/// Exit codes. `lost` is lock-and-run's: the lease (or leadership) ended while COMMAND ran, and
/// COMMAND was stopped.
constexpr int exit_ok = 0, exit_error = 1, exit_usage = 2, exit_unreachable = 3, exit_lost = 4;

struct options {
  std::string socket;
  bool as_json = false;
  int timeout_ms = 5000;
};

/// Thrown for a usage mistake; main prints it with the usage of what was asked and exits 2.
struct usage_error : std::runtime_error {
  using std::runtime_error::runtime_error;
};

/// Thrown when batond cannot be reached or stops answering; exits 3.
struct unreachable : std::runtime_error {
  using std::runtime_error::runtime_error;
};

/// A RESP3 connection to batond (maps come as maps, pushes as pushes). `extra_ms` is added to
/// the read timeout for calls that wait on purpose (WAIT, ELECT JOIN). Throws unreachable.
std::unique_ptr<resp_client> connect(const options& o, int extra_ms = 0);

json to_json(const resp_value& v);

/// Sends one command; an error reply is printed (as JSON with --json) and answers false.
bool call(resp_client& client, const std::vector<std::string>& args, const options& o, json& out);

/// Prints a reply for a person: a map as aligned "key  value" lines, an array of maps as
/// blocks, an array of scalars one per line, nil as `none` (or `empty_text`).
void print_human(const json& value, const std::string& empty_text = "none");

/// The reply as JSON (--json) or for a person; answers exit_ok.
int print_reply(const json& value, const options& o, const std::string& empty_text = "none");

/// A scalar as text, without JSON's quotes.
std::string text(const json& value);

} // namespace baton::ctl
