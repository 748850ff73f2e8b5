// result<T> and failure: a call's success value or a failure of the error vocabulary, with
// its context, and the one way a failure becomes an error reply.
#include <catch2/catch.hpp>

#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "protocol/reply_writer.hpp"
#include "protocol/result.hpp"

using namespace baton::protocol;

namespace {

struct holder_detail {
  std::string node;
  long token = 0;
};

struct released {};

result<int> half(int n) {
  if (n % 2 != 0) return fail(error_code::err, "odd number", holder_detail{"n1", n});
  return n / 2;
}

} // namespace

TEST_CASE("a result holds a success value") {
  auto r = half(8);
  REQUIRE(r.ok());
  CHECK(static_cast<bool>(r));
  CHECK(r.value() == 4);
  CHECK(*r == 4);
  result<std::string> text = std::string("abc");
  CHECK(text->size() == 3);
  result<released> done = released{};
  CHECK(done.ok());
}

TEST_CASE("a result holds a failure with its code, why and context") {
  auto r = half(7);
  REQUIRE_FALSE(r.ok());
  CHECK_FALSE(static_cast<bool>(r));
  CHECK(r.error().code == error_code::err);
  CHECK(r.error().why == "odd number");
  const auto* detail = r.error().context_as<holder_detail>();
  REQUIRE(detail != nullptr);
  CHECK(detail->node == "n1");
  CHECK(detail->token == 7);
  CHECK(r.error().context_as<std::string>() == nullptr); // another type: no context
}

TEST_CASE("a failure without context has none of any type") {
  auto f = fail(error_code::unavailable, "redis is down");
  CHECK(f.code == error_code::unavailable);
  CHECK_FALSE(f.context.has_value());
  CHECK(f.context_as<holder_detail>() == nullptr);
  result<std::vector<std::string>> r = f;
  CHECK_FALSE(r);
}

TEST_CASE("a result converts from what its value type is made from") {
  result<std::optional<int>> some = 3;
  REQUIRE(some.ok());
  CHECK(some.value() == 3);
  result<std::optional<int>> none = std::nullopt;
  REQUIRE(none.ok());
  CHECK_FALSE(none.value().has_value());
  result<std::variant<int, std::string>> alternative = std::string("pending");
  REQUIRE(alternative.ok());
  CHECK(std::get<std::string>(*alternative) == "pending");
  result<std::string> literal = "ok";
  CHECK(*literal == "ok");
}

TEST_CASE("a result moves its value and its failure out") {
  result<std::string> r = std::string(100, 'x');
  auto taken = std::move(r).value();
  CHECK(taken.size() == 100);
  result<std::string> f = fail(error_code::busy, "rotating", holder_detail{"n2", 1});
  auto error = std::move(f).error();
  CHECK(error.code == error_code::busy);
  CHECK(error.context_as<holder_detail>()->node == "n2");
}

TEST_CASE("a failure becomes its error reply in one place") {
  std::string out;
  reply_writer w(out, 2);
  w.error(fail(error_code::lost, "lease 'a' was lost"));
  CHECK(out == "-LOST lease 'a' was lost\r\n");
  auto value = encode_result(result<int>(5), 3, [](reply_writer& o, int v) { o.integer(v); });
  CHECK(value == ":5\r\n");
  auto error = encode_result(result<int>(fail(error_code::notheld, "no lease\r\nhere")), 3,
                             [](reply_writer& o, int v) { o.integer(v); });
  CHECK(error == "-NOTHELD no lease  here\r\n");
}
