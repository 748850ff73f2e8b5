// The SHA-256 digest of a secret's value: what VERIFY compares (in constant time), so that a
// candidate is never compared with the plaintext itself.
#pragma once

#include <openssl/evp.h>

#include <array>
#include <memory>
#include <string_view>

namespace baton::secret {

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

} // namespace baton::secret
