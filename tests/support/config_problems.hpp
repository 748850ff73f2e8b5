// Reading a config result's problems in tests: whether one mentions a text, and all of them
// as one string for a failed assertion's message.
#pragma once

#include <string>

#include "daemon/config_loader.hpp"

namespace baton::test {

inline bool has_problem(const config_result& r, const std::string& text) {
  for (const auto& p : r.problems)
    if (p.find(text) != std::string::npos) return true;
  return false;
}

inline std::string dump(const config_result& r) {
  std::string all;
  for (const auto& p : r.problems)
    all += p + "\n";
  return all;
}

} // namespace baton::test
