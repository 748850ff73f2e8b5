// Envelope encryption; see envelope.hpp.
#include "model/secret/envelope.hpp"

#include <openssl/evp.h>
#include <openssl/rand.h>

#include <memory>
#include <stdexcept>

namespace baton::secret {
namespace {

constexpr std::size_t key_size = 32;
constexpr std::size_t nonce_size = 12; // GCM's natural nonce; random per encryption
constexpr std::size_t tag_size = 16;

using cipher_context = std::unique_ptr<EVP_CIPHER_CTX, decltype(&EVP_CIPHER_CTX_free)>;

// The authenticated data: what a ciphertext is bound to. Lengths prefix each part so that
// ("ab", "c") and ("a", "bc") differ.
std::string bound_to(const char* purpose, const std::string& name, const std::string& version,
                     const std::string& kek_id = {}) {
  std::string aad = purpose;
  for (const auto* part : {&name, &version, &kek_id}) {
    aad += '|';
    aad += std::to_string(part->size());
    aad += ':';
    aad += *part;
  }
  return aad;
}

// nonce | ciphertext | tag
bool encrypt(const secure_bytes& key, const unsigned char* plain, std::size_t size,
             const std::string& aad, std::string& out) {
  cipher_context ctx(EVP_CIPHER_CTX_new(), &EVP_CIPHER_CTX_free);
  if (!ctx) return false;
  out.assign(nonce_size + size + tag_size, '\0');
  auto* bytes = reinterpret_cast<unsigned char*>(out.data());
  if (RAND_bytes(bytes, nonce_size) != 1) return false;
  int length = 0;
  if (EVP_EncryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr, nullptr, nullptr) != 1 ||
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_IVLEN, nonce_size, nullptr) != 1 ||
      EVP_EncryptInit_ex(ctx.get(), nullptr, nullptr, key.data(), bytes) != 1 ||
      EVP_EncryptUpdate(ctx.get(), nullptr, &length,
                        reinterpret_cast<const unsigned char*>(aad.data()),
                        static_cast<int>(aad.size())) != 1)
    return false;
  if (size > 0 &&
      EVP_EncryptUpdate(ctx.get(), bytes + nonce_size, &length, plain, static_cast<int>(size)) != 1)
    return false;
  if (EVP_EncryptFinal_ex(ctx.get(), bytes + nonce_size + size, &length) != 1 ||
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_GET_TAG, tag_size, bytes + nonce_size + size) !=
          1)
    return false;
  return true;
}

bool decrypt(const secure_bytes& key, const std::string& sealed, const std::string& aad,
             secure_bytes& out) {
  if (sealed.size() < nonce_size + tag_size) return false;
  auto size = sealed.size() - nonce_size - tag_size;
  const auto* bytes = reinterpret_cast<const unsigned char*>(sealed.data());
  cipher_context ctx(EVP_CIPHER_CTX_new(), &EVP_CIPHER_CTX_free);
  if (!ctx) return false;
  secure_bytes plain(size);
  int length = 0;
  unsigned char tag[tag_size];
  std::copy(bytes + nonce_size + size, bytes + sealed.size(), tag);
  if (EVP_DecryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr, nullptr, nullptr) != 1 ||
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_IVLEN, nonce_size, nullptr) != 1 ||
      EVP_DecryptInit_ex(ctx.get(), nullptr, nullptr, key.data(), bytes) != 1 ||
      EVP_DecryptUpdate(ctx.get(), nullptr, &length,
                        reinterpret_cast<const unsigned char*>(aad.data()),
                        static_cast<int>(aad.size())) != 1)
    return false;
  if (size > 0 && EVP_DecryptUpdate(ctx.get(), plain.data(), &length, bytes + nonce_size,
                                    static_cast<int>(size)) != 1)
    return false;
  if (EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_TAG, tag_size, tag) != 1) return false;
  unsigned char end[16];
  // The tag is checked here: on a mismatch nothing decrypted is handed out (plain is wiped).
  if (EVP_DecryptFinal_ex(ctx.get(), end, &length) != 1) return false;
  out = std::move(plain);
  return true;
}

bool unwrap(const keyring& keys, const std::string& name, const std::string& version,
            const sealed_version& sealed, secure_bytes& data_key, std::string& error) {
  const auto* k = keys.find(sealed.kek_id);
  if (!k) {
    error =
        "its data key was wrapped by KEK '" + sealed.kek_id + "', which this daemon does not have";
    return false;
  }
  if (!decrypt(k->key, sealed.wrapped_key, bound_to("baton-data-key", name, version, sealed.kek_id),
               data_key) ||
      data_key.size() != key_size) {
    error = "its data key does not unwrap under KEK '" + sealed.kek_id +
            "' (a different KEK with that id, or the wrapped key was changed or moved)";
    return false;
  }
  return true;
}

} // namespace

bool keyring::add(kek k, std::string& error) {
  if (k.key.size() != key_size) {
    error = "KEK '" + k.id + "' must be 32 bytes, got " + std::to_string(k.key.size());
    return false;
  }
  if (keys_.count(k.id)) {
    error = "two KEKs have the id '" + k.id + "'";
    return false;
  }
  auto id = k.id;
  keys_.emplace(id, std::move(k));
  return true;
}

bool keyring::set_active(const std::string& id) {
  if (!keys_.count(id)) return false;
  active_ = id;
  return true;
}

const kek* keyring::active() const {
  return find(active_);
}

const kek* keyring::find(const std::string& id) const {
  auto it = keys_.find(id);
  return it == keys_.end() ? nullptr : &it->second;
}

secure_bytes random_bytes(std::size_t n) {
  secure_bytes out(n);
  if (n > 0 && RAND_bytes(out.data(), static_cast<int>(n)) != 1)
    throw std::runtime_error("OpenSSL's CSPRNG failed");
  return out;
}

bool seal(const keyring& keys, const std::string& name, const std::string& version,
          const secure_bytes& plaintext, sealed_version& out, std::string& error) {
  const auto* k = keys.active();
  if (!k) {
    error = "no active KEK is configured";
    return false;
  }
  auto data_key = random_bytes(key_size);
  sealed_version sealed;
  sealed.kek_id = k->id;
  if (!encrypt(k->key, data_key.data(), data_key.size(),
               bound_to("baton-data-key", name, version, k->id), sealed.wrapped_key) ||
      !encrypt(data_key, plaintext.data(), plaintext.size(),
               bound_to("baton-secret", name, version), sealed.ciphertext)) {
    error = "encryption failed in OpenSSL";
    return false;
  }
  out = std::move(sealed);
  return true;
}

bool open(const keyring& keys, const std::string& name, const std::string& version,
          const sealed_version& sealed, secure_bytes& plaintext, std::string& error) {
  secure_bytes data_key;
  if (!unwrap(keys, name, version, sealed, data_key, error)) return false;
  if (!decrypt(data_key, sealed.ciphertext, bound_to("baton-secret", name, version), plaintext)) {
    error = "its ciphertext does not authenticate (changed, or moved from another secret or "
            "version)";
    return false;
  }
  return true;
}

bool rewrap(const keyring& keys, const std::string& name, const std::string& version,
            sealed_version& sealed, std::string& error) {
  const auto* k = keys.active();
  if (!k) {
    error = "no active KEK is configured";
    return false;
  }
  secure_bytes data_key;
  if (!unwrap(keys, name, version, sealed, data_key, error)) return false;
  std::string wrapped;
  if (!encrypt(k->key, data_key.data(), data_key.size(),
               bound_to("baton-data-key", name, version, k->id), wrapped)) {
    error = "encryption failed in OpenSSL";
    return false;
  }
  sealed.kek_id = k->id;
  sealed.wrapped_key = std::move(wrapped);
  return true;
}

} // namespace baton::secret
