// Runs embedded scripts on a test Redis; see script_runner.hpp.
#include "tests/support/script_runner.hpp"

#include <stdexcept>

#include "redis/script_registry.hpp"

namespace baton::test {

script_runner::script_runner(const std::string& redis_socket) : client_(redis_socket) {}

protocol::resp_value script_runner::run(const std::string& name,
                                        const std::vector<std::string>& keys,
                                        const std::vector<std::string>& args) {
  static const redis_link::script_registry registry;
  const auto* script = registry.find(name);
  if (script == nullptr) throw std::runtime_error("no script lua/" + name + ".lua");
  std::vector<std::string> argv = {"EVALSHA", script->sha1, std::to_string(keys.size())};
  argv.insert(argv.end(), keys.begin(), keys.end());
  argv.insert(argv.end(), args.begin(), args.end());
  auto reply = client_.call(argv);
  if (reply.is_error() && reply.str.rfind("NOSCRIPT", 0) == 0) {
    client_.call({"SCRIPT", "LOAD", script->body});
    reply = client_.call(argv);
  }
  return reply;
}

} // namespace baton::test
