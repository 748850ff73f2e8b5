// The holder of a lease as a daemon that follows the name for its watchers knows it.
#pragma once

#include <cstdint>
#include <string>

#include "model/caller.hpp"

namespace baton::lease {

/// token 0: none.
struct known_holder {
  std::int64_t token = 0;
  std::string node, meta;
  std::int64_t uid = caller::unknown_uid;
};

} // namespace baton::lease
