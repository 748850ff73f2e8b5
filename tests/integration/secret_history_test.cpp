// Secrets after Redis lost its data (FLUSHALL, or a restart without persistence while the
// daemons stayed connected): the secret's history begins again at epoch 1 and version 1, the
// same numbers a daemon may still hold, so only the record's incarnation tells them apart.
// Real batond processes on a real redis-server; the daemons' refresh is short, and the tests
// poll with a generous deadline instead of asserting a time.
#include <catch2/catch.hpp>

#include "tests/integration/secret_fixture.hpp"

using namespace baton;
using protocol::resp_client;
using protocol::resp_value;
using test::field;
using test::text_field;
using test::value_of;

namespace {

/// A refresh of 200 ms: the acknowledgement that finds a lost or remade record runs often.
const std::string fast_refresh = "  grace_ms: 60000\n  refresh_ms: 200\n";

} // namespace

TEST_CASE("a secret PUT again after Redis lost it is served anew by a daemon that held it",
          "[portable]") {
  test::test_backend redis;
  test::temp_dir dir;
  auto config = test::write_secret_config(dir, "s.yaml", fast_refresh);
  auto a = test::secret_daemon(redis, "a", config);
  auto b = test::secret_daemon(redis, "b", config);
  resp_client ca(a->socket_path()), cb(b->socket_path());
  // B makes the secret and serves it: version 1 at epoch 1. A never looks at it.
  REQUIRE(field(cb.call({"SECRET", "PUT", "stripe", "sk_old"}), "version") == 1);
  REQUIRE(value_of(cb.call({"SECRET", "GET", "stripe"})) == "sk_old");
  resp_client watcher(b->socket_path());
  watcher.call({"HELLO", "3"});
  REQUIRE(watcher.call({"SECRET", "WATCH", "stripe"}).integer == 1);

  REQUIRE(redis.cli({"FLUSHALL"}) == "OK");
  // PUT again through A, which has seen no version of it: the new history has version 1 and
  // epoch 1 again, numbers B already holds with the old value.
  auto put = ca.call({"SECRET", "PUT", "stripe", "sk_new"});
  REQUIRE(field(put, "epoch") == 1);

  // B notices by the promotion's announcement, or at the latest by its next acknowledgement.
  CHECK(test::eventually(
      [&] {
        return value_of(cb.call({"SECRET", "GET", "stripe"})) == "sk_new";
      },
      5000));
  auto verified = cb.call({"SECRET", "VERIFY", "stripe", "sk_new"});
  CHECK(field(verified, "match") == 1);
  CHECK(text_field(verified, "state") == "current");
  // The old value was never promoted in this history: B does not keep it as `previous`.
  // (A VERIFY that misses reads Redis again, so this is asked only after B serves sk_new.)
  CHECK(field(cb.call({"SECRET", "VERIFY", "stripe", "sk_old"}), "match") == 0);
  // Watchers on B hear of the new value even if its version number is one they had.
  auto pushed = watcher.read();
  REQUIRE(pushed.elements.size() == 5);
  CHECK(pushed.elements[1].str == "rotated");
  CHECK(pushed.elements[2].str == "stripe");
  CHECK(pushed.elements[3].integer == field(put, "version"));
}

TEST_CASE("a secret Redis lost is no longer served: GET answers nil until it is PUT again",
          "[portable]") {
  test::test_backend redis;
  test::temp_dir dir;
  auto config = test::write_secret_config(dir, "s.yaml", fast_refresh);
  auto b = test::secret_daemon(redis, "b", config);
  resp_client cb(b->socket_path());
  REQUIRE(field(cb.call({"SECRET", "PUT", "stripe", "sk_lost"}), "version") == 1);
  REQUIRE(value_of(cb.call({"SECRET", "GET", "stripe"})) == "sk_lost");

  REQUIRE(redis.cli({"FLUSHALL"}) == "OK");
  // The connection stayed up, so nothing announced the loss: the refresh's acknowledgement
  // finds the record gone, and the reload finds the name absent.
  CHECK(test::eventually(
      [&] {
        return cb.call({"SECRET", "GET", "stripe"}).kind == resp_value::type::null;
      },
      5000));
  CHECK(cb.call({"SECRET", "VERIFY", "stripe", "sk_lost"}).kind == resp_value::type::null);

  REQUIRE(field(cb.call({"SECRET", "PUT", "stripe", "sk_found"}), "version") >= 1);
  CHECK(value_of(cb.call({"SECRET", "GET", "stripe"})) == "sk_found");
}
