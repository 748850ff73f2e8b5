// Script lookup and hashing; see script_registry.hpp.
#include "redis/script_registry.hpp"

#include <openssl/sha.h>

#include "redis/durable_scripts.hpp"
#include "redis/embedded_scripts.hpp"
#include "common/chaos_bugs.hpp"

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
    // Unchanged unless the chaos harness asked for a deliberate bug (BATON_CHAOS_BUGS).
    auto body = chaos_bugs::apply(s.name, std::string(s.body));
    auto sha = sha1_hex(body);
    scripts_[name] = script{name, std::move(body), std::move(sha), is_durable_script(name)};
  }
}

const script* script_registry::find(std::string_view name) const {
  auto it = scripts_.find(std::string(name));
  return it == scripts_.end() ? nullptr : &it->second;
}

} // namespace baton::redis_link
