// A keyring with one fixed 32-byte KEK ("k1", bytes first, first+1, ...), for unit tests that
// seal and open secrets without a KEK file.
#pragma once

#include <catch2/catch.hpp>

#include <memory>

#include "model/secret/envelope.hpp"

namespace baton::test {

inline std::shared_ptr<secret::keyring> test_keys(unsigned char first = 7) {
  auto ring = std::make_shared<secret::keyring>();
  secret::secure_bytes key(32);
  for (std::size_t i = 0; i < key.size(); ++i)
    key.data()[i] = static_cast<unsigned char>(first + i);
  std::string error;
  REQUIRE(ring->add({"k1", std::move(key)}, error));
  REQUIRE(ring->set_active("k1"));
  return ring;
}

} // namespace baton::test
