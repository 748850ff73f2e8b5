// KEK loading; see kek_loader.hpp.
#include "model/secret/kek_loader.hpp"

#include <openssl/evp.h>

#include <cstdlib>
#include <fstream>
#include <iterator>

namespace baton::secret {
namespace {

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Text files end in a newline, and people paste keys with spaces around them.
std::string trimmed(const std::string& text) {
  auto first = text.find_first_not_of(" \t\r\n");
  if (first == std::string::npos) return {};
  auto last = text.find_last_not_of(" \t\r\n");
  return text.substr(first, last - first + 1);
}

} // namespace

bool decode_key_text(const std::string& text, const std::string& encoding, secure_bytes& out) {
  if (encoding == "raw") {
    out = secure_bytes(text);
    return true;
  }
  auto clean = trimmed(text);
  if (encoding == "hex") {
    if (clean.size() % 2 != 0) return false;
    secure_bytes bytes(clean.size() / 2);
    for (std::size_t i = 0; i < bytes.size(); ++i) {
      int high = hex_value(clean[2 * i]), low = hex_value(clean[2 * i + 1]);
      if (high < 0 || low < 0) return false;
      bytes.data()[i] = static_cast<unsigned char>(high * 16 + low);
    }
    out = std::move(bytes);
    return true;
  }
  if (encoding == "base64") {
    if (clean.empty() || clean.size() % 4 != 0) return false;
    secure_bytes bytes(clean.size() / 4 * 3);
    int n = EVP_DecodeBlock(bytes.data(), reinterpret_cast<const unsigned char*>(clean.data()),
                            static_cast<int>(clean.size()));
    if (n < 0) return false;
    // EVP_DecodeBlock counts padding as zero bytes.
    std::size_t padding =
        clean[clean.size() - 1] == '=' ? (clean[clean.size() - 2] == '=' ? 2 : 1) : 0;
    bytes.truncate(static_cast<std::size_t>(n) - padding);
    out = std::move(bytes);
    return true;
  }
  return false;
}

std::string to_hex(const secure_bytes& bytes) {
  static const char digits[] = "0123456789abcdef";
  std::string text;
  text.reserve(bytes.size() * 2);
  for (std::size_t i = 0; i < bytes.size(); ++i) {
    text += digits[bytes.data()[i] >> 4];
    text += digits[bytes.data()[i] & 15];
  }
  return text;
}

std::string to_base64(const secure_bytes& bytes) {
  std::string text(4 * ((bytes.size() + 2) / 3) + 1, '\0');
  int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(text.data()), bytes.data(),
                          static_cast<int>(bytes.size()));
  text.resize(static_cast<std::size_t>(n));
  return text;
}

bool load_keyring(const secrets_config& config, keyring& out, std::vector<std::string>& problems) {
  auto before = problems.size();
  for (const auto& source : config.keks) {
    std::string text;
    std::string where;
    if (!source.file.empty()) {
      where = "file " + source.file;
      std::ifstream in(source.file, std::ios::binary);
      if (!in) {
        problems.push_back("KEK '" + source.id + "': cannot read " + where);
        continue;
      }
      text.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
    } else {
      where = "environment variable " + source.env;
      const char* value = std::getenv(source.env.c_str());
      if (!value) {
        problems.push_back("KEK '" + source.id + "': " + where + " is not set");
        continue;
      }
      text = value;
    }
    kek k;
    k.id = source.id;
    bool decoded = decode_key_text(text, source.encoding, k.key);
    // secure_bytes would not wipe a std::string; the text held key material too.
    OPENSSL_cleanse(text.data(), text.size());
    if (!decoded) {
      problems.push_back("KEK '" + source.id + "' in " + where + " is not valid " +
                         source.encoding);
      continue;
    }
    std::string error;
    if (!out.add(std::move(k), error)) problems.push_back(error + " (" + where + ")");
  }
  if (problems.size() == before && !config.keks.empty()) {
    auto active = config.active_kek.empty() ? config.keks.front().id : config.active_kek;
    if (!out.set_active(active))
      problems.push_back("active_kek '" + active + "' is not a KEK listed");
  }
  return problems.size() == before;
}

} // namespace baton::secret
