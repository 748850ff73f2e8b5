// Resume tokens: made with the active KEK's token key and checked with whichever KEK they
// name; a changed byte, an unknown KEK, or a malformed token is refused with a reason that
// repeats nothing of the token.
#include <catch2/catch.hpp>

#include "model/session/resume_token.hpp"

using namespace baton;
using namespace baton::session;

namespace {

secret::keyring ring(std::initializer_list<std::pair<const char*, unsigned char>> keks,
                     const std::string& active) {
  secret::keyring r;
  std::string error;
  for (const auto& [id, fill] : keks) {
    secret::secure_bytes key(32);
    for (std::size_t i = 0; i < key.size(); ++i)
      key.data()[i] = static_cast<unsigned char>(fill + i);
    REQUIRE(r.add({id, std::move(key)}, error));
  }
  REQUIRE(r.set_active(active));
  return r;
}

} // namespace

// Session ids and nonces are what random_id makes: 32 hex digits.
const std::string session_id = std::string(32, 'a');
const std::string nonce = std::string(31, '0') + "1";

TEST_CASE("a resume token round-trips its claims") {
  auto keys = ring({{"k1", 1}}, "k1");
  auto token = make_token(keys, {session_id, 7, nonce});
  token_claims claims;
  std::string why;
  REQUIRE(check_token(keys, token, claims, why));
  CHECK(claims.session == session_id);
  CHECK(claims.epoch == 7);
  CHECK(claims.nonce == nonce);
}

TEST_CASE("a token made under an older KEK still checks after rotation to a new one") {
  auto old_ring = ring({{"k1", 1}}, "k1");
  auto token = make_token(old_ring, {session_id, 1, nonce});
  auto rotated = ring({{"k1", 1}, {"k2", 9}}, "k2");
  token_claims claims;
  std::string why;
  CHECK(check_token(rotated, token, claims, why));
  auto other = ring({{"k2", 9}}, "k2"); // k1 retired: refused
  CHECK_FALSE(check_token(other, token, claims, why));
}

TEST_CASE("a forged, altered or malformed token is refused without echoing it") {
  auto keys = ring({{"k1", 1}}, "k1");
  auto token = make_token(keys, {session_id, 7, nonce});
  token_claims claims;
  std::string why;
  REQUIRE(check_token(keys, token, claims, why));
  auto altered = token;
  altered[altered.size() - 1] = altered.back() == '0' ? '1' : '0';
  CHECK_FALSE(check_token(keys, altered, claims, why));
  CHECK(why.find(altered) == std::string::npos);
  auto other_epoch = token;
  other_epoch.replace(other_epoch.find(".7."), 3, ".8.");
  CHECK_FALSE(check_token(keys, other_epoch, claims, why));
  for (const std::string bad : {"", "v1", "v2.s.1.n.k1.00", "v1.s.x.n.k1.00", "garbage"})
    CHECK_FALSE(check_token(keys, bad, claims, why));
  auto forged_key = ring({{"k1", 2}}, "k1"); // same id, other key
  CHECK_FALSE(check_token(keys, make_token(forged_key, {session_id, 7, nonce}), claims, why));
  CHECK_FALSE(check_token(keys, make_token(keys, {"not-hex", 7, nonce}), claims, why));
}

TEST_CASE("ids are 32 hex digits and do not repeat") {
  auto a = random_id(), b = random_id();
  CHECK(a.size() == 32);
  CHECK(a.find_first_not_of("0123456789abcdef") == std::string::npos);
  CHECK(a != b);
}
