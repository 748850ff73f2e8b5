// What the secret tests share: a KEK file, a config naming it, and daemons that use it.
#pragma once

#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "protocol/resp_client.hpp"
#include "tests/support/reply_fields.hpp"
#include "tests/support/test_backend.hpp"
#include "tests/support/test_batond.hpp"

namespace baton::test {

/// Writes `hex` (64 hex digits) as a KEK file and a config whose `secrets:` section has that
/// KEK as `k1` plus `extra` lines (indented two spaces, under `secrets:`), and `top` lines at
/// the top level.
inline std::string write_secret_config(const temp_dir& dir, const std::string& file,
                                       const std::string& extra = "", const std::string& top = "",
                                       const std::string& hex = std::string(64, 'a')) {
  std::ofstream(dir.file(file + ".kek")) << hex << "\n";
  std::ofstream(dir.file(file)) << top << "secrets:\n  keks:\n    - {id: k1, file: "
                                << dir.file(file + ".kek") << "}\n"
                                << extra;
  return dir.file(file);
}

inline std::unique_ptr<test_batond> secret_daemon(const test_redis& redis, const std::string& node,
                                                  const std::string& config) {
  return std::make_unique<test_batond>(
      redis.unix_url(), std::vector<std::string>{"--node-id", node, "--config", config});
}

inline std::unique_ptr<test_batond>
secret_daemon(const test_backend& redis, const std::string& node, const std::string& config) {
  return std::make_unique<test_batond>(
      redis.url(), std::vector<std::string>{"--node-id", node, "--config", config});
}

inline std::string value_of(const protocol::resp_value& r) {
  return text_field(r, "value");
}

} // namespace baton::test
