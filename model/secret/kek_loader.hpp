// Builds the keyring from the config's KEK sources: reads each file or environment variable,
// decodes hex, base64 or raw bytes, and checks for exactly 32 bytes. `--check-config` runs
// the same code, so a missing or malformed KEK is caught before a deploy rather than at it.
#pragma once

#include <string>
#include <vector>

#include "model/secret/envelope.hpp"
#include "model/secret/secret_settings.hpp"

namespace baton::secret {

/// Fills `out` (one problem per bad source in `problems`, naming no key material); the
/// active KEK is `config.active_kek`, else the first listed.
bool load_keyring(const secrets_config& config, keyring& out, std::vector<std::string>& problems);

/// Decodes a KEK's text form; false if it is not valid `encoding` ("hex", "base64", "raw").
bool decode_key_text(const std::string& text, const std::string& encoding, secure_bytes& out);

/// Text forms of generated values.
std::string to_hex(const secure_bytes& bytes);
std::string to_base64(const secure_bytes& bytes);

} // namespace baton::secret
