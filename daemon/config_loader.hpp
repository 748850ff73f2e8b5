// Reads and validates the YAML config. Every problem is reported, not only the first, each as
// one line "file:line:column: message"; unknown keys are errors, so typos cannot pass.
#pragma once

#include <string>
#include <vector>

#include "daemon/config.hpp"

namespace baton {

struct config_result {
  config cfg;
  std::vector<std::string> problems; ///< empty when the config is valid
  bool ok() const { return problems.empty(); }
};

/// Loads `path` over the defaults. A missing or unreadable file is one problem.
config_result load_config_file(const std::string& path);

/// Loads YAML text (for tests); `name` stands for the file in messages.
config_result load_config_text(const std::string& text, const std::string& name);

/// Checks the parts that do not come from YAML alone (flags may have changed them):
/// the Redis URL, the HTTP address, the password file. Appends problems.
void validate_config(config& cfg, std::vector<std::string>& problems);

/// Parses "host:port" (IPv6 as "[::1]:port"); false if malformed.
bool parse_listen_address(const std::string& text, std::string& host, unsigned short& port);

} // namespace baton
