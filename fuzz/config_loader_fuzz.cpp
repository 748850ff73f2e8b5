// Fuzzes the config loader (daemon/config_loader) with any text as the YAML file: it must
// report problems (none empty), never crash or throw. Also the listen-address parser it uses.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "daemon/config_loader.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string text(reinterpret_cast<const char*>(data), size);
  auto result = baton::load_config_text(text, "fuzz.yaml");
  std::string host;
  unsigned short port = 0;
  baton::parse_listen_address(text.substr(0, text.find('\n')), host, port);
  for (const auto& problem : result.problems)
    if (problem.empty()) std::abort(); // every problem must say something
  return 0;
}
