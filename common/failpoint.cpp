// Failpoints; see failpoint.hpp.
#include "common/failpoint.hpp"

#include <csignal>
#include <cstdlib>
#include <string>

#include "common/log.hpp"

namespace baton {

void failpoint(const char* name) {
  static const std::string listed = [] {
    const char* text = std::getenv("BATON_FAILPOINTS");
    return text ? "," + std::string(text) + "," : std::string();
  }();
  if (listed.empty() || listed.find("," + std::string(name) + ",") == std::string::npos) return;
  log::warn("failpoint", "dying here on purpose (BATON_FAILPOINTS)", {{"at", name}});
  std::raise(SIGKILL);
}

} // namespace baton
