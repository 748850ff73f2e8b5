// Envelope encryption of secret versions. Each version's value is encrypted with AES-256-GCM
// under its own random data key; the data key is wrapped (AES-256-GCM again) by a
// key-encryption key (KEK) that lives only in batond's memory, read from a file or an
// environment variable, never stored in Redis. The authenticated data binds a ciphertext to
// its secret's name and version (and a wrapped key also to its KEK's id), so a ciphertext
// moved to another name or version, or a wrapped key swapped between versions, fails to
// open instead of yielding another secret's plaintext.
#pragma once

#include <map>
#include <string>

#include "model/secret/secure_bytes.hpp"

namespace baton::secret {

/// A key-encryption key: 32 bytes, named so that a wrapped key says which KEK wrapped it.
struct kek {
  std::string id;
  secure_bytes key;
};

/// The KEKs this daemon knows: one active (wraps new data keys), older ones to unwrap.
class keyring {
public:
  /// False (with `error`) if the id is taken or the key is not 32 bytes.
  bool add(kek k, std::string& error);
  /// False if there is no KEK of that id.
  bool set_active(const std::string& id);
  const kek* active() const;
  const kek* find(const std::string& id) const;
  bool empty() const { return keys_.empty(); }

private:
  std::map<std::string, kek> keys_;
  std::string active_;
};

/// What is stored in Redis for one version: no plaintext, no key material in the clear.
struct sealed_version {
  std::string kek_id;
  std::string wrapped_key; ///< nonce (12) | encrypted data key (32) | tag (16)
  std::string ciphertext;  ///< nonce (12) | encrypted value | tag (16)
};

/// Encrypts `plaintext` as version `version` of secret `name` under a fresh data key wrapped
/// by the keyring's active KEK. False (with `error`) if there is no active KEK or OpenSSL
/// fails.
bool seal(const keyring& keys, const std::string& name, const std::string& version,
          const secure_bytes& plaintext, sealed_version& out, std::string& error);

/// Decrypts a sealed version. False (with a clear `error` that names no secret material) if
/// its KEK is unknown, or anything was changed, swapped or wrapped by another KEK.
bool open(const keyring& keys, const std::string& name, const std::string& version,
          const sealed_version& sealed, secure_bytes& plaintext, std::string& error);

/// Re-wraps a sealed version's data key under the active KEK (`batonctl secret rewrap`);
/// the value's ciphertext is unchanged. False (with `error`) if it cannot be unwrapped.
bool rewrap(const keyring& keys, const std::string& name, const std::string& version,
            sealed_version& sealed, std::string& error);

/// `n` bytes from OpenSSL's CSPRNG.
secure_bytes random_bytes(std::size_t n);

} // namespace baton::secret
