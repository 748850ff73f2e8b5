// The Lua scripts of lua/, embedded into the binary at build time (cmake/embed_lua.cmake).
#pragma once

#include <string_view>
#include <vector>

namespace baton::redis_link {

struct embedded_script {
  std::string_view name; ///< file name without ".lua", e.g. "time"
  std::string_view body;
};

const std::vector<embedded_script>& embedded_scripts();

} // namespace baton::redis_link
