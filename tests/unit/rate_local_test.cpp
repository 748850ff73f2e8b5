// The rate limiter's local decisions on a manual clock: the over-limit cache refuses a repeat
// only until Redis' own retry-after and only for requests at least as costly, and the local
// share (Redis down, failure mode `local`) admits this host's share of each window.
#include <catch2/catch.hpp>

#include "services/rate/local_limiter.hpp"
#include "services/rate/over_limit_cache.hpp"

using namespace baton::rate;
using namespace std::chrono_literals;

TEST_CASE("the over-limit cache refuses until retry-after, and only as costly requests") {
  over_limit_cache cache;
  auto t0 = over_limit_cache::clock::time_point(100s);
  cache.remember("api", "user:1", {t0 + 500ms, t0 + 60s, 2}, t0);
  CHECK(cache.find("api", "user:1", 2, t0));
  CHECK(cache.find("api", "user:1", 5, t0 + 499ms)); // costlier: refused too
  CHECK_FALSE(cache.find("api", "user:1", 1, t0));    // cheaper may pass: ask Redis
  CHECK_FALSE(cache.find("api", "user:1", 2, t0 + 500ms)); // Redis would let it pass now
  CHECK_FALSE(cache.find("api", "user:2", 2, t0));    // another key
  CHECK_FALSE(cache.find("other", "user:1", 2, t0));  // another policy
  cache.remember("api", "user:3", {t0 + 10s, t0 + 60s, 1}, t0);
  cache.forget("api", "user:3"); // RATE RESET
  CHECK_FALSE(cache.find("api", "user:3", 1, t0));
}

TEST_CASE("a full over-limit cache sweeps expired entries, else forgets the new one") {
  over_limit_cache cache(2);
  auto t0 = over_limit_cache::clock::time_point(100s);
  cache.remember("p", "a", {t0 + 1s, t0 + 1s, 1}, t0);
  cache.remember("p", "b", {t0 + 1s, t0 + 1s, 1}, t0);
  cache.remember("p", "c", {t0 + 1s, t0 + 1s, 1}, t0); // full, nothing expired: not remembered
  CHECK(cache.size() == 2);
  CHECK_FALSE(cache.find("p", "c", 1, t0));
  cache.remember("p", "d", {t0 + 5s, t0 + 5s, 1}, t0 + 2s); // a and b expired: swept
  CHECK(cache.size() == 1);
  CHECK(cache.find("p", "d", 1, t0 + 2s));
}

TEST_CASE("the local share admits limit / live nodes per window, or local_share") {
  rate_policy policy;
  policy.name = "api";
  policy.failure_mode = "local";
  policy.windows = {{60000ms, 90}};
  CHECK(local_limiter::share(policy, policy.windows[0], 3) == 30);
  CHECK(local_limiter::share(policy, policy.windows[0], 0) == 90); // at least one node
  policy.local_share = 10;
  CHECK(local_limiter::share(policy, policy.windows[0], 3) == 10);
  policy.local_share = 0;

  local_limiter limiter;
  auto t0 = local_limiter::clock::time_point(1000s);
  int admitted = 0;
  for (int i = 0; i < 100; ++i)
    admitted += limiter.check(policy, "k", 1, true, 3, t0).allowed;
  CHECK(admitted == 30);
  auto refused = limiter.check(policy, "k", 1, true, 3, t0);
  CHECK_FALSE(refused.allowed);
  CHECK(refused.retry_after_ms > 0);
  // GCRA: one more every window / share = 2 s.
  CHECK(limiter.check(policy, "k", 1, true, 3, t0 + 2000ms).allowed);
  CHECK_FALSE(limiter.check(policy, "k", 1, true, 3, t0 + 2000ms).allowed);
  // A PEEK (no charge) does not use the share up.
  CHECK(limiter.check(policy, "other", 1, false, 3, t0).allowed);
  CHECK(limiter.check(policy, "other", 1, false, 3, t0).remaining ==
        limiter.check(policy, "other", 1, false, 3, t0).remaining);
}
