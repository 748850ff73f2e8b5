// daemon/accept_backoff.hpp: an acceptor whose accept fails (EMFILE) waits 100 ms, doubling to
// 1 s, instead of spinning, and logs once per episode of failures.
#include <catch2/catch.hpp>

#include <vector>

#include "daemon/accept_backoff.hpp"

using namespace baton;
using namespace std::chrono_literals;

TEST_CASE("accept failures back off 100 ms doubling to 1 s, and a success starts over") {
  accept_backoff b;
  auto first = b.failed();
  CHECK(first.delay == 100ms);
  CHECK(first.starts_episode);
  std::vector<std::chrono::milliseconds> delays;
  for (int i = 0; i < 6; ++i) {
    auto s = b.failed();
    CHECK_FALSE(s.starts_episode); // logged once per episode, not per attempt
    delays.push_back(s.delay);
  }
  CHECK(delays ==
        std::vector<std::chrono::milliseconds>{200ms, 400ms, 800ms, 1000ms, 1000ms, 1000ms});
  CHECK(b.succeeded() == 7); // the episode it ends, for the recovery's log line
  CHECK(b.succeeded() == 0); // no episode: nothing to log
  auto again = b.failed();
  CHECK(again.delay == 100ms);
  CHECK(again.starts_episode);
}
