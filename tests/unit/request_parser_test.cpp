// The request parser: complete, partial, pipelined, inline and hostile input.
#include <catch2/catch.hpp>

#include <iterator>
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
  for (int round = 0; round < 20000; ++round) {
    std::string input(rng() % 64, '\0');
    for (auto& c : input)
      c = "*$\r\n0123456789-abc"[rng() % 18];
    request_parser parser(limits); // each input is a new connection's first bytes
    auto r = parser.parse(input.data(), input.size(), args);
    if (r.status == parse_status::complete) REQUIRE(r.consumed > 0);
    REQUIRE(r.consumed <= input.size());
  }
}

namespace {
// Feeds `input` to one parser in pieces cut at `cuts` (each piece appended to what is still
// unparsed, as client_connection does) and returns every outcome: the arguments of each
// complete request, then "error: ..." or "need_more" for the rest.
std::vector<std::string> outcomes_in_pieces(const std::string& input, request_limits limits,
                                            const std::vector<std::size_t>& cuts) {
  request_parser parser(limits);
  std::vector<std::string> outcomes, args;
  std::string buffer;
  std::size_t fed = 0;
  auto drain = [&] {
    for (;;) {
      auto r = parser.parse(buffer.data(), buffer.size(), args);
      if (r.status == parse_status::need_more) return true;
      if (r.status == parse_status::error) {
        outcomes.push_back("error: " + r.error);
        return false;
      }
      std::string joined;
      for (const auto& a : args)
        joined += a + "|";
      outcomes.push_back(joined);
      buffer.erase(0, r.consumed);
      if (buffer.empty()) return true;
    }
  };
  for (auto cut : cuts) {
    buffer.append(input, fed, cut - fed);
    fed = cut;
    if (!drain()) return outcomes;
  }
  buffer.append(input, fed, std::string::npos);
  if (drain() && !buffer.empty()) outcomes.push_back("need_more");
  return outcomes;
}
} // namespace

TEST_CASE("a stream parsed in pieces gives what it gives in one piece") {
  std::mt19937 rng(7);
  request_limits limits{512, 8, 64};
  const std::string pieces[] = {"*2\r\n", "*1\r\n", "$3\r\n", "$0\r\n", "SET", "\r\n",
                                "\r",     "\n",     "$",      "*",      "12",  "-1",
                                " ",      "PING",   "\0"s,    "$40\r\n"};
  for (int round = 0; round < 5000; ++round) {
    std::string input;
    for (int n = rng() % 12; n > 0; --n)
      input += pieces[rng() % std::size(pieces)];
    std::vector<std::size_t> cuts;
    for (std::size_t at = 0; at < input.size(); at += 1 + rng() % 4)
      cuts.push_back(at);
    INFO("input: " << input);
    REQUIRE(outcomes_in_pieces(input, limits, cuts) == outcomes_in_pieces(input, limits, {}));
  }
}

TEST_CASE("a request trickled in one byte at a time is read in linear time") {
  // 4096 arguments of 250 bytes: about 1 MB. Rescanning the finished arguments on every byte
  // would look at billions of bytes; resuming looks at each byte a bounded number of times.
  std::string request = "*4096\r\n";
  for (int i = 0; i < 4096; ++i)
    request += "$250\r\n" + std::string(250, static_cast<char>('a' + i % 26)) + "\r\n";
  request_parser parser;
  std::vector<std::string> args;
  parse_result r;
  for (std::size_t fed = 1; fed <= request.size(); ++fed) {
    r = parser.parse(request.data(), fed, args);
    if (fed < request.size() && r.status != parse_status::need_more) FAIL("finished early");
    // A bound at every step, so the old behaviour fails at once instead of after minutes.
    if (parser.bytes_examined() > 4 * fed + 4096)
      FAIL(parser.bytes_examined() << " bytes examined after " << fed << " bytes fed");
  }
  REQUIRE(r.status == parse_status::complete);
  CHECK(r.consumed == request.size());
  REQUIRE(args.size() == 4096);
  CHECK(args[4095] == std::string(250, static_cast<char>('a' + 4095 % 26)));
  CHECK(parser.bytes_examined() <= 3 * request.size());
}

TEST_CASE("an inline command trickled in one byte at a time is read in linear time") {
  std::string line;
  while (line.size() < 60000)
    line += "abcdefghijklmno "; // 3750 words, under the 4096 arguments limit
  line += "\r\n";
  request_parser parser;
  std::vector<std::string> args;
  parse_result r;
  for (std::size_t fed = 1; fed <= line.size(); ++fed) {
    r = parser.parse(line.data(), fed, args);
    if (parser.bytes_examined() > 4 * fed + 4096)
      FAIL(parser.bytes_examined() << " bytes examined after " << fed << " bytes fed");
  }
  REQUIRE(r.status == parse_status::complete);
  CHECK(args.size() == 3750);
}

TEST_CASE("after a complete request the parser starts afresh") {
  request_parser parser;
  std::vector<std::string> args;
  std::string first = "*1\r\n$4\r\nPING\r\n";
  CHECK(parser.parse(first.data(), 6, args).status == parse_status::need_more);
  CHECK(parser.parse(first.data(), first.size(), args).status == parse_status::complete);
  std::string second = "ECHO hi\n";
  auto r = parser.parse(second.data(), second.size(), args);
  REQUIRE(r.status == parse_status::complete);
  CHECK(args == std::vector<std::string>{"ECHO", "hi"});
}
