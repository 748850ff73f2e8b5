// How a batonctl verb is described (its words, arguments, flags and help) and how its
// arguments are read: positional arguments within their count, known flags only (a value where
// one is needed), and the COMMAND after `--` for the verbs that run one. Every mistake is a
// usage_error naming it; main answers it with the verb's usage and exit status 2.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "daemon/ctl/ctl_common.hpp"

namespace baton::ctl {

struct flag_spec {
  std::string name;       ///< "--wait"
  std::string value_name; ///< "MS"; empty for a switch
  std::string help;
};

struct verb_args {
  std::vector<std::string> positional;
  std::map<std::string, std::string> flags; ///< switches map to ""
  std::vector<std::string> command;         ///< after `--`

  bool has(const std::string& flag) const { return flags.count(flag) > 0; }
  std::string get(const std::string& flag, const std::string& fallback = "") const;
  /// The flag's value as a whole number within [min, max], else `fallback` if absent.
  std::int64_t number(const std::string& flag, std::int64_t fallback, std::int64_t min,
                      std::int64_t max) const;
};

struct verb_spec {
  std::vector<std::string> words; ///< {"lease", "info"}, or {"status"}
  std::string arguments;          ///< "NAME [PATTERN]" for the usage line
  std::string summary;
  std::size_t min_positional = 0;
  std::size_t max_positional = 0;
  std::vector<flag_spec> flags;
  bool takes_command = false; ///< `-- COMMAND [ARG...]` required
  std::function<int(const options&, const verb_args&)> run;
};

/// Reads a verb's arguments (what follows its words). Throws usage_error.
verb_args parse_verb(const verb_spec& spec, const std::vector<std::string>& args);

/// "batonctl lease info NAME" and the flags, for -h and usage errors.
std::string usage_of(const verb_spec& spec);

} // namespace baton::ctl
