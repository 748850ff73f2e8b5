// Bytes that hold key material or a secret's plaintext: zeroed with OPENSSL_cleanse (which
// the compiler may not optimise away) when they are released, moved from, or resized.
// Copies are deliberate (`clone`), so that plaintext is not duplicated by accident.
#pragma once

#include <openssl/crypto.h>

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace baton::secret {

class secure_bytes {
public:
  secure_bytes() = default;
  explicit secure_bytes(std::size_t size) : bytes_(size) {}
  secure_bytes(const unsigned char* data, std::size_t size) : bytes_(data, data + size) {}
  explicit secure_bytes(std::string_view text)
      : bytes_(reinterpret_cast<const unsigned char*>(text.data()),
               reinterpret_cast<const unsigned char*>(text.data()) + text.size()) {}
  ~secure_bytes() { wipe(); }

  secure_bytes(const secure_bytes&) = delete;
  secure_bytes& operator=(const secure_bytes&) = delete;
  secure_bytes(secure_bytes&& other) noexcept : bytes_(std::move(other.bytes_)) {
    other.bytes_.clear();
  }
  secure_bytes& operator=(secure_bytes&& other) noexcept {
    if (this != &other) {
      wipe();
      bytes_ = std::move(other.bytes_);
      other.bytes_.clear();
    }
    return *this;
  }

  secure_bytes clone() const { return secure_bytes(bytes_.data(), bytes_.size()); }

  unsigned char* data() { return bytes_.data(); }
  const unsigned char* data() const { return bytes_.data(); }
  std::size_t size() const { return bytes_.size(); }
  bool empty() const { return bytes_.empty(); }
  /// Shrinks to `size` (never grows), zeroing what is cut off.
  void truncate(std::size_t size) {
    if (size >= bytes_.size()) return;
    OPENSSL_cleanse(bytes_.data() + size, bytes_.size() - size);
    bytes_.resize(size);
  }
  /// A view for comparison or for writing out (to a client); do not keep it.
  std::string_view view() const {
    return {reinterpret_cast<const char*>(bytes_.data()), bytes_.size()};
  }

private:
  void wipe() {
    if (!bytes_.empty()) OPENSSL_cleanse(bytes_.data(), bytes_.size());
  }
  std::vector<unsigned char> bytes_;
};

} // namespace baton::secret
