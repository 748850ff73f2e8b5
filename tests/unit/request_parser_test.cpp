// The request parser: complete, partial, pipelined, inline and hostile input.
#include <catch2/catch.hpp>

#include <random>

#include "protocol/request_parser.hpp"

using namespace baton::protocol;
using namespace std::string_literals;

namespace {
parse_result parse(const std::string& input, std::vector<std::string>& args,
                   request_limits limits = {}) {
  return request_parser(limits).parse(input.data(), input.size(), args);
}
} // namespace

TEST_CASE("a RESP array of bulk strings parses into arguments") {
  std::vector<std::string> args;
  auto r = parse("*2\r\n$4\r\nECHO\r\n$5\r\nhel\0o\r\n"s, args);
  REQUIRE(r.status == parse_status::complete);
  CHECK(r.consumed == 25);
  REQUIRE(args.size() == 2);
  CHECK(args[0] == "ECHO");
  CHECK(args[1] == std::string("hel\0o", 5));
}

TEST_CASE("every proper prefix of a request asks for more") {
  std::string full = "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$10\r\n0123456789\r\n";
  std::vector<std::string> args;
  for (std::size_t n = 0; n < full.size(); ++n)
    REQUIRE(parse(full.substr(0, n), args).status == parse_status::need_more);
  CHECK(parse(full, args).status == parse_status::complete);
}

TEST_CASE("pipelined requests parse one at a time") {
  std::string input = "*1\r\n$4\r\nPING\r\n*1\r\n$4\r\nPING\r\n";
  std::vector<std::string> args;
  auto first = parse(input, args);
  REQUIRE(first.status == parse_status::complete);
  auto second = parse(input.substr(first.consumed), args);
  REQUIRE(second.status == parse_status::complete);
  CHECK(first.consumed + second.consumed == input.size());
}

TEST_CASE("inline commands split on whitespace") {
  std::vector<std::string> args;
  auto r = parse("ECHO  hello\r\n", args);
  REQUIRE(r.status == parse_status::complete);
  CHECK(args == std::vector<std::string>{"ECHO", "hello"});
  CHECK(parse("PING", args).status == parse_status::need_more);
}

TEST_CASE("an empty array is an empty request") {
  std::vector<std::string> args{"stale"};
  auto r = parse("*0\r\n", args);
  CHECK(r.status == parse_status::complete);
  CHECK(args.empty());
}

TEST_CASE("limits are enforced before anything is allocated") {
  std::vector<std::string> args;
  request_limits small{1024, 8, 64};
  SECTION("too many arguments") {
    auto r = parse("*9\r\n", args, small);
    REQUIRE(r.status == parse_status::error);
    CHECK(r.error.find("too many arguments") != std::string::npos);
  }
  SECTION("absurd argument count") {
    CHECK(parse("*2147483647\r\n", args).status == parse_status::error);
  }
  SECTION("a bulk string over the request limit") {
    auto r = parse("*1\r\n$5000\r\n", args, small);
    REQUIRE(r.status == parse_status::error);
    CHECK(r.error.find("larger than the limit") != std::string::npos);
  }
  SECTION("a huge declared length") {
    CHECK(parse("*1\r\n$99999999999999\r\n", args).status == parse_status::error);
  }
  SECTION("an inline line too long") {
    CHECK(parse(std::string(100, 'a'), args, small).status == parse_status::error);
  }
}

TEST_CASE("malformed framing is an error, not a hang") {
  std::vector<std::string> args;
  CHECK(parse("*x\r\n", args).status == parse_status::error);
  CHECK(parse("*1\r\n:1\r\n", args).status == parse_status::error);
  CHECK(parse("*1\r\n$-5\r\n", args).status == parse_status::error);
  CHECK(parse("*1\r\n$2\r\nabc\r\n", args).status == parse_status::error);
  CHECK(parse("*" + std::string(40, '1'), args).status == parse_status::error);
}

TEST_CASE("random bytes never crash the parser and always make progress or stop") {
  std::mt19937 rng(42);
  std::vector<std::string> args;
  request_limits limits{4096, 16, 256};
  request_parser parser(limits);
  for (int round = 0; round < 20000; ++round) {
    std::string input(rng() % 64, '\0');
    for (auto& c : input)
      c = "*$\r\n0123456789-abc"[rng() % 18];
    auto r = parser.parse(input.data(), input.size(), args);
    if (r.status == parse_status::complete) REQUIRE(r.consumed > 0);
    REQUIRE(r.consumed <= input.size());
  }
}
