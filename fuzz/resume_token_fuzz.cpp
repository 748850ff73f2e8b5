// Fuzzes the check of session resume tokens (model/session/resume_token), which come from
// clients: any text must be refused with a reason or accepted, and an accepted token must be
// exactly the one the daemon would make for its claims. The seeds are tokens signed with the
// key below (see fuzz/README.md for how they were made).
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "model/session/resume_token.hpp"

namespace {

const baton::secret::keyring& fuzz_keys() {
  static const baton::secret::keyring keys = [] {
    baton::secret::keyring k;
    baton::secret::kek key{"fuzzkek", baton::secret::secure_bytes(32)};
    for (std::size_t i = 0; i < key.key.size(); ++i)
      key.key.data()[i] = static_cast<unsigned char>(i);
    std::string error;
    if (!k.add(std::move(key), error) || !k.set_active("fuzzkek")) std::abort();
    return k;
  }();
  return keys;
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string token(reinterpret_cast<const char*>(data), size);
  baton::session::token_claims claims;
  std::string why;
  if (!baton::session::check_token(fuzz_keys(), token, claims, why)) {
    if (why.empty()) std::abort();
    return 0;
  }
  if (baton::session::make_token(fuzz_keys(), claims) != token) {
    std::fprintf(stderr, "resume_token_fuzz: accepted a token the daemon would not make\n");
    std::abort();
  }
  return 0;
}
