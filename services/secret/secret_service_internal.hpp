// What the files of secret_service share: the wall clock in ms (for Redis' own clock,
// estimated), the SHA-256 digest VERIFY compares, and building answers.
#pragma once

#include <openssl/evp.h>

#include <array>
#include <chrono>
#include <memory>
#include <string>
#include <string_view>

#include "services/secret/secret_service.hpp"

namespace baton::secret {

inline constexpr std::size_t max_cached = 10000; ///< names this daemon serves from memory

inline std::int64_t system_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// SHA-256 with the algorithm fetched once and one context per thread reused: EVP_Digest
// fetches and allocates on every call, which showed in VERIFY's throughput.
inline std::array<unsigned char, 32> digest_of(std::string_view bytes) {
  static EVP_MD* sha256 = EVP_MD_fetch(nullptr, "SHA256", nullptr);
  thread_local std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> context(EVP_MD_CTX_new(),
                                                                               &EVP_MD_CTX_free);
  std::array<unsigned char, 32> out{};
  unsigned int size = 0;
  if (!sha256 || !context || EVP_DigestInit_ex(context.get(), sha256, nullptr) != 1 ||
      EVP_DigestUpdate(context.get(), bytes.data(), bytes.size()) != 1 ||
      EVP_DigestFinal_ex(context.get(), out.data(), &size) != 1)
    EVP_Digest(bytes.data(), bytes.size(), out.data(), &size, EVP_sha256(), nullptr);
  return out;
}

inline secret_answer answer(secret_answer::kind what, std::string why = {}) {
  secret_answer a;
  a.what = what;
  a.why = std::move(why);
  return a;
}

} // namespace baton::secret
