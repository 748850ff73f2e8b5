// What the files of secret_service share: the cache's bound and the names of results.
#pragma once

#include <array>
#include <chrono>
#include <memory>
#include <string>
#include <string_view>

#include "model/secret/secret_digest.hpp"
#include "services/secret/secret_service.hpp"

namespace baton::secret {

using protocol::error_code;
using protocol::fail;
using protocol::result;

} // namespace baton::secret
