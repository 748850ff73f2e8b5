// What the files of secret_service share: the cache's bound and building answers.
#pragma once

#include <array>
#include <chrono>
#include <memory>
#include <string>
#include <string_view>

#include "model/secret/secret_digest.hpp"
#include "services/secret/secret_service.hpp"

namespace baton::secret {

inline constexpr std::size_t max_cached = 10000; ///< names this daemon serves from memory

inline secret_answer answer(secret_answer::kind what, std::string why = {}) {
  secret_answer a;
  a.what = what;
  a.why = std::move(why);
  return a;
}

} // namespace baton::secret
