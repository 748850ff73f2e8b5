// Script lookup and hashing; see script_registry.hpp.
#include "actors/redis_link/script_registry.hpp"

#include <openssl/sha.h>

#include "actors/redis_link/embedded_scripts.hpp"

namespace baton::redis_link {

std::string sha1_hex(std::string_view text) {
  unsigned char digest[SHA_DIGEST_LENGTH];
  SHA1(reinterpret_cast<const unsigned char*>(text.data()), text.size(), digest);
  static const char* hex = "0123456789abcdef";
  std::string out;
  out.reserve(2 * SHA_DIGEST_LENGTH);
  for (unsigned char byte : digest) {
    out += hex[byte >> 4];
    out += hex[byte & 0xf];
  }
  return out;
}

script_registry::script_registry() {
  for (const auto& s : embedded_scripts()) {
    std::string name(s.name);
    scripts_[name] = script{name, std::string(s.body), sha1_hex(s.body)};
  }
}

const script* script_registry::find(std::string_view name) const {
  auto it = scripts_.find(std::string(name));
  return it == scripts_.end() ? nullptr : &it->second;
}

} // namespace baton::redis_link
