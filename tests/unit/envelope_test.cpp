// Envelope encryption of secret versions: round trips, and every kind of tampering (a changed
// byte, a ciphertext moved to another name or version, a wrapped key swapped between
// versions, a wrong or missing KEK) fails with a clear error, never with wrong plaintext.
#include <catch2/catch.hpp>

#include "model/secret/envelope.hpp"

using namespace baton::secret;

namespace {

kek make_kek(const std::string& id, unsigned char fill) {
  secure_bytes key(32);
  for (std::size_t i = 0; i < key.size(); ++i)
    key.data()[i] = static_cast<unsigned char>(fill + i);
  return {id, std::move(key)};
}

keyring ring_with(std::initializer_list<std::pair<const char*, unsigned char>> keks,
                  const std::string& active) {
  keyring ring;
  std::string error;
  for (const auto& [id, fill] : keks)
    REQUIRE(ring.add(make_kek(id, fill), error));
  REQUIRE(ring.set_active(active));
  return ring;
}

sealed_version seal_ok(const keyring& ring, const std::string& name, const std::string& version,
                       const std::string& value) {
  sealed_version sealed;
  std::string error;
  REQUIRE(seal(ring, name, version, secure_bytes(value), sealed, error));
  return sealed;
}

// Opens and returns the error; the plaintext must stay empty on failure.
std::string open_error(const keyring& ring, const std::string& name, const std::string& version,
                       const sealed_version& sealed) {
  secure_bytes plain;
  std::string error;
  bool ok = open(ring, name, version, sealed, plain, error);
  CHECK_FALSE(ok);
  CHECK(plain.empty());
  return error;
}

} // namespace

TEST_CASE("a sealed version opens to its plaintext, and nothing readable is stored") {
  auto ring = ring_with({{"k1", 1}}, "k1");
  const std::string value = "sk_live_4eC39HqLyjWDarjtT1zdp7dc";
  auto sealed = seal_ok(ring, "stripe", "3", value);
  CHECK(sealed.kek_id == "k1");
  CHECK(sealed.ciphertext.size() == 12 + value.size() + 16);
  CHECK(sealed.wrapped_key.size() == 12 + 32 + 16);
  CHECK(sealed.ciphertext.find("sk_live") == std::string::npos);
  secure_bytes plain;
  std::string error;
  REQUIRE(open(ring, "stripe", "3", sealed, plain, error));
  CHECK(plain.view() == value);
  // Fresh data key and nonces every time: the same value seals differently.
  auto again = seal_ok(ring, "stripe", "3", value);
  CHECK(again.ciphertext != sealed.ciphertext);
  CHECK(again.wrapped_key != sealed.wrapped_key);
  // The empty value is a value too.
  auto empty = seal_ok(ring, "blank", "1", "");
  REQUIRE(open(ring, "blank", "1", empty, plain, error));
  CHECK(plain.empty());
}

TEST_CASE("any changed byte of ciphertext or wrapped key fails to open") {
  auto ring = ring_with({{"k1", 1}}, "k1");
  auto sealed = seal_ok(ring, "stripe", "3", "the value");
  for (std::size_t i = 0; i < sealed.ciphertext.size(); ++i) {
    auto changed = sealed;
    changed.ciphertext[i] = static_cast<char>(changed.ciphertext[i] ^ 0x01);
    CHECK(open_error(ring, "stripe", "3", changed).find("does not authenticate") !=
          std::string::npos);
  }
  for (std::size_t i = 0; i < sealed.wrapped_key.size(); ++i) {
    auto changed = sealed;
    changed.wrapped_key[i] = static_cast<char>(changed.wrapped_key[i] ^ 0x80);
    CHECK(open_error(ring, "stripe", "3", changed).find("does not unwrap") != std::string::npos);
  }
  auto truncated = sealed;
  truncated.ciphertext.resize(10);
  CHECK_FALSE(open_error(ring, "stripe", "3", truncated).empty());
}

TEST_CASE("a ciphertext moved to another name or version, or a swapped key, fails") {
  auto ring = ring_with({{"k1", 1}}, "k1");
  auto v3 = seal_ok(ring, "stripe", "3", "three");
  auto v4 = seal_ok(ring, "stripe", "4", "four");
  CHECK(!open_error(ring, "stripe", "4", v3).empty()); // version 3 presented as 4
  CHECK(!open_error(ring, "github", "3", v3).empty()); // another secret's name
  CHECK(!open_error(ring, "stripe", "34", v3).empty());
  auto swapped = v4;
  swapped.wrapped_key = v3.wrapped_key; // v3's data key with v4's ciphertext
  CHECK(!open_error(ring, "stripe", "4", swapped).empty());
  swapped = v3;
  swapped.ciphertext = v4.ciphertext; // v4's ciphertext under v3's name and key
  CHECK(!open_error(ring, "stripe", "3", swapped).empty());
}

TEST_CASE("a wrong or missing KEK is a clear error: rewrap moves to the active KEK") {
  auto old_ring = ring_with({{"k1", 1}}, "k1");
  auto sealed = seal_ok(old_ring, "stripe", "3", "value");

  auto impostor = ring_with({{"k1", 99}}, "k1"); // same id, other bytes
  CHECK(open_error(impostor, "stripe", "3", sealed).find("does not unwrap under KEK 'k1'") !=
        std::string::npos);
  auto stranger = ring_with({{"k2", 2}}, "k2");
  CHECK(open_error(stranger, "stripe", "3", sealed).find("KEK 'k1'") != std::string::npos);
  auto relabeled = sealed;
  relabeled.kek_id = "k2"; // claims another KEK wrapped it
  CHECK(!open_error(ring_with({{"k1", 1}, {"k2", 2}}, "k2"), "stripe", "3", relabeled).empty());

  // Rotation of the KEK: k2 active, k1 still known, so old versions open and rewrap.
  auto both = ring_with({{"k1", 1}, {"k2", 2}}, "k2");
  std::string error;
  REQUIRE(rewrap(both, "stripe", "3", sealed, error));
  CHECK(sealed.kek_id == "k2");
  auto only_new = ring_with({{"k2", 2}}, "k2");
  secure_bytes plain;
  REQUIRE(open(only_new, "stripe", "3", sealed, plain, error));
  CHECK(plain.view() == "value");
}

TEST_CASE("keyring rules: 32-byte keys, unique ids, an active KEK to seal") {
  keyring ring;
  std::string error;
  CHECK_FALSE(ring.add({"short", secure_bytes(std::string_view("too short"))}, error));
  CHECK(error.find("must be 32 bytes") != std::string::npos);
  REQUIRE(ring.add(make_kek("k1", 1), error));
  CHECK_FALSE(ring.add(make_kek("k1", 2), error));
  CHECK(error.find("two KEKs") != std::string::npos);
  CHECK_FALSE(ring.set_active("nope"));
  sealed_version sealed;
  CHECK_FALSE(seal(ring, "s", "1", secure_bytes(std::string_view("v")), sealed, error));
  CHECK(error.find("no active KEK") != std::string::npos);
}

TEST_CASE("secure_bytes moves leave nothing behind, truncation wipes the tail") {
  secure_bytes a(std::string_view("secret!"));
  secure_bytes b(std::move(a));
  CHECK(a.empty());
  CHECK(b.view() == "secret!");
  b.truncate(3);
  CHECK(b.view() == "sec");
  auto c = b.clone();
  CHECK(c.view() == "sec");
  CHECK(random_bytes(32).size() == 32);
  CHECK(random_bytes(16).view() != random_bytes(16).view());
}
