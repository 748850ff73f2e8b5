// Our RESP command formatter must produce exactly what hiredis' redisFormatCommandArgv does
// (it replaced it on the hot path for speed; see redis_connection.cpp).
#include <catch2/catch.hpp>

#include <hiredis/hiredis.h>

#include <random>

#include "redis/redis_connection.hpp"

namespace {
std::string hiredis_format(const std::vector<std::string>& args) {
  std::vector<const char*> argv;
  std::vector<size_t> lengths;
  for (const auto& a : args) {
    argv.push_back(a.data());
    lengths.push_back(a.size());
  }
  char* out = nullptr;
  auto n = redisFormatCommandArgv(&out, static_cast<int>(args.size()), argv.data(), lengths.data());
  std::string result(out, static_cast<std::size_t>(n));
  redisFreeCommand(out);
  return result;
}
} // namespace

TEST_CASE("format_command matches hiredis byte for byte") {
  using baton::redis_link::format_command;
  CHECK(format_command({"PING"}) == "*1\r\n$4\r\nPING\r\n");
  CHECK(format_command({"SET", "", std::string("a\0b", 3)}) ==
        hiredis_format({"SET", "", std::string("a\0b", 3)}));
  std::mt19937 rng(11);
  for (int round = 0; round < 2000; ++round) {
    std::vector<std::string> args(1 + rng() % 12);
    for (auto& a : args) {
      a.resize(rng() % (round % 10 == 0 ? 70000 : 40));
      for (auto& c : a)
        c = static_cast<char>(rng());
    }
    REQUIRE(format_command(args) == hiredis_format(args));
  }
}
