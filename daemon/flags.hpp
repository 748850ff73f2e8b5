// batond's command-line flags. They override the config file for the keys that tests and
// scripts change most; everything else lives in the YAML file.
#pragma once

#include <optional>
#include <string>

#include "daemon/config.hpp"

namespace baton {

struct flags {
  std::string config_file;              ///< --config FILE
  std::string check_config_file;        ///< --check-config FILE
  std::optional<std::string> socket;    ///< --socket PATH
  std::optional<std::string> http;      ///< --http ADDR:PORT, or "off"
  std::optional<std::string> redis;     ///< --redis URL
  std::optional<std::string> node_id;   ///< --node-id ID
  std::optional<std::string> prefix;    ///< --prefix P
  std::optional<std::string> state_dir; ///< --state-dir DIR
  std::optional<std::string> log_level; ///< --log-level LEVEL
  bool help = false;
  bool version = false;
};

/// Parses argv; on a bad flag returns false with `error` set.
bool parse_flags(int argc, char** argv, flags& out, std::string& error);

/// Writes the flags' values over a loaded config.
void apply_flags(const flags& f, config& cfg);

/// The --help text.
std::string usage();

} // namespace baton
