// Resume tokens; see resume_token.hpp.
#include "model/session/resume_token.hpp"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <vector>

#include "model/secret/kek_loader.hpp"

namespace baton::session {
namespace {

// The token key is derived from the KEK, so the KEK itself never signs anything.
secret::secure_bytes token_key(const secret::kek& k) {
  static const std::string purpose = "baton session resume token v1";
  secret::secure_bytes key(32);
  unsigned int size = 0;
  HMAC(EVP_sha256(), k.key.data(), static_cast<int>(k.key.size()),
       reinterpret_cast<const unsigned char*>(purpose.data()), purpose.size(), key.data(), &size);
  return key;
}

std::string mac_hex(const secret::kek& k, const std::string& text) {
  auto key = token_key(k);
  secret::secure_bytes mac(32);
  unsigned int size = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
       reinterpret_cast<const unsigned char*>(text.data()), text.size(), mac.data(), &size);
  return secret::to_hex(mac);
}

std::vector<std::string> split(const std::string& text, char separator) {
  std::vector<std::string> parts(1);
  for (char c : text) {
    if (c == separator)
      parts.emplace_back();
    else
      parts.back() += c;
  }
  return parts;
}

bool is_hex(const std::string& text, std::size_t size) {
  if (text.size() != size) return false;
  for (char c : text)
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  return true;
}

} // namespace

std::string random_id() {
  return secret::to_hex(secret::random_bytes(16));
}

std::string next_nonce(const secret::keyring& keys, const token_claims& claims,
                       const std::string& node) {
  auto text = "next." + claims.session + "." + std::to_string(claims.epoch) + "." + claims.nonce +
              "." + node;
  return mac_hex(*keys.active(), text).substr(0, 32);
}

std::string make_token(const secret::keyring& keys, const token_claims& claims) {
  const auto* k = keys.active();
  auto text = "v1." + claims.session + "." + std::to_string(claims.epoch) + "." + claims.nonce +
              "." + k->id;
  return text + "." + mac_hex(*k, text);
}

bool check_token(const secret::keyring& keys, const std::string& token, token_claims& out,
                 std::string& why) {
  auto parts = split(token, '.');
  if (token.size() > 512 || parts.size() != 6 || parts[0] != "v1" || !is_hex(parts[1], 32) ||
      !is_hex(parts[3], 32) || !is_hex(parts[5], 64) || parts[2].empty() ||
      parts[2].find_first_not_of("0123456789") != std::string::npos || parts[2].size() > 18) {
    why = "not a resume token";
    return false;
  }
  const auto* k = keys.find(parts[4]);
  if (!k) {
    why = "the token was signed with a KEK this daemon does not have";
    return false;
  }
  auto signed_text = token.substr(0, token.size() - 65);
  auto expected = mac_hex(*k, signed_text);
  if (CRYPTO_memcmp(expected.data(), parts[5].data(), 64) != 0) {
    why = "the token's signature does not match (forged or damaged)";
    return false;
  }
  out.session = parts[1];
  out.epoch = std::stoll(parts[2]);
  out.nonce = parts[3];
  return true;
}

} // namespace baton::session
