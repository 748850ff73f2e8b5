// Runs the embedded scripts of lua/ on a test_redis by EVALSHA (loading them first), the way
// the link does, so that tests of scripts exercise exactly what batond sends.
#pragma once

#include <string>
#include <vector>

#include "protocol/resp_client.hpp"

namespace baton::test {

class script_runner {
public:
  explicit script_runner(const std::string& redis_socket);

  /// Runs lua/<name>.lua with KEYS and ARGV; returns Redis' reply.
  protocol::resp_value run(const std::string& name, const std::vector<std::string>& keys,
                           const std::vector<std::string>& args);
  /// A plain command on the same connection.
  protocol::resp_value call(const std::vector<std::string>& args) { return client_.call(args); }

private:
  protocol::resp_client client_;
};

} // namespace baton::test
