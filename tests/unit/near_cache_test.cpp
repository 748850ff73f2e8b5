// The near cache on virtual time (every instant is a time_point the test builds; nothing
// sleeps): an entry is fresh until its near TTL and served stale until its Redis TTL; hits and
// misses are counted; a fill an invalidation overtook (of its key, by a pattern, by a flush, or
// while the channel is lost) is refused and counted, while fills begun after it are admitted;
// the byte budget pushes out the least recently used entry first and is never exceeded; and
// glob_match reads Redis' glob, in linear time even for a hostile pattern.
#include <catch2/catch.hpp>

#include <chrono>
#include <cstddef>
#include <optional>
#include <string>

#include "services/cache/near_cache.hpp"

using baton::cache::glob_match;
using baton::cache::near_cache;
using duration = baton::cache::clock::duration;
using time_point = baton::cache::clock::time_point;
using namespace std::chrono_literals;

namespace {

/// The start of every test's timeline (an hour past the clock's epoch: room to go back).
const time_point cache_start = time_point{} + 1h;

/// What fresh() and stale() answer when the cache has no entry for them.
const std::string miss = "(miss)";

/// Begins a fill of `key` and admits `value` at once, as a read that no invalidation
/// overtook: fresh for `fresh_for`, in Redis until `expires`.
bool fill(near_cache& c, const std::string& key, const std::string& value, time_point now,
          duration fresh_for, time_point expires) {
  auto ticket = c.begin_fill();
  return c.admit(key, value, ticket, now, fresh_for, expires);
}

/// A fill at cache_start, fresh for 10 s, in Redis for 60 s.
bool fill(near_cache& c, const std::string& key, const std::string& value) {
  return fill(c, key, value, cache_start, 10s, cache_start + 60s);
}

/// What get() answers for `key` at `now`: its value, or `miss`.
std::string fresh(near_cache& c, const std::string& key, time_point now) {
  auto hit = c.get(key, now);
  return hit ? *hit->value : miss;
}

/// What get_stale() answers for `key` at `now`: its value, or `miss`.
std::string stale(near_cache& c, const std::string& key, time_point now) {
  auto hit = c.get_stale(key, now);
  return hit ? *hit->value : miss;
}

/// What one entry of `key` and `value` costs against the budget (measured, not computed).
std::size_t cost_of(const std::string& key, const std::string& value) {
  near_cache probe(std::size_t{1} << 30);
  REQUIRE(fill(probe, key, value));
  return probe.bytes();
}

} // namespace

// -- fresh and stale --------------------------------------------------------------------------

TEST_CASE("near cache: a fill is a hit until its near TTL and then a miss") {
  near_cache c(1 << 20);
  REQUIRE(fill(c, "k", "v", cache_start, 10s, cache_start + 60s));
  CHECK(c.entries() == 1);
  CHECK(fresh(c, "k", cache_start) == "v");
  auto hit = c.get("k", cache_start + 9999ms);
  REQUIRE(hit.has_value());
  REQUIRE(hit->value != nullptr);
  CHECK(*hit->value == "v");
  CHECK(hit->expires == cache_start + 60s); // the Redis TTL's end, not the near TTL's
  CHECK(fresh(c, "k", cache_start + 10s) == miss);
  CHECK(fresh(c, "k", cache_start + 11s) == miss);
}

TEST_CASE("near cache: get_stale answers past the near TTL until the Redis TTL") {
  near_cache c(1 << 20);
  REQUIRE(fill(c, "k", "v", cache_start, 10s, cache_start + 60s));
  CHECK(stale(c, "k", cache_start + 10s) == "v");
  auto hit = c.get_stale("k", cache_start + 30s);
  REQUIRE(hit.has_value());
  CHECK(*hit->value == "v");
  CHECK(hit->expires == cache_start + 60s);
  CHECK(stale(c, "k", cache_start + 59999ms) == "v");
  CHECK(stale(c, "k", cache_start + 60s) == miss); // gone from Redis too
  CHECK(fresh(c, "k", cache_start + 60s) == miss);
  CHECK(c.entries() == 0);
  CHECK(c.bytes() == 0);
}

// cache_service::get asks get() first and, when Redis cannot be asked, get_stale(): the miss of
// the first must leave the entry to the second, or no degraded answer is ever given past the
// near TTL.
TEST_CASE("near cache: a get past the near TTL leaves the entry to get_stale until the Redis TTL") {
  near_cache c(1 << 20);
  REQUIRE(fill(c, "k", "v", cache_start, 10s, cache_start + 60s));
  CHECK(fresh(c, "k", cache_start + 10s) == miss);
  CHECK(stale(c, "k", cache_start + 10s) == "v");
  CHECK(fresh(c, "k", cache_start + 30s) == miss);
  CHECK(stale(c, "k", cache_start + 30s) == "v");
  CHECK(stale(c, "k", cache_start + 60s) == miss);
  CHECK(fresh(c, "k", cache_start + 60s) == miss);
}

TEST_CASE("near cache: an entry lapses at its Redis TTL even when its near TTL is longer") {
  near_cache c(1 << 20);
  REQUIRE(fill(c, "k", "v", cache_start, 120s, cache_start + 60s));
  CHECK(fresh(c, "k", cache_start + 59s) == "v");
  CHECK(fresh(c, "k", cache_start + 60s) == miss);
  CHECK(stale(c, "k", cache_start + 60s) == miss);
}

TEST_CASE("near cache: hits and misses are counted by get and get_stale alike") {
  near_cache c(1 << 20);
  CHECK(fresh(c, "k", cache_start) == miss); // misses 1
  REQUIRE(fill(c, "k", "v", cache_start, 10s, cache_start + 60s));
  CHECK(fresh(c, "k", cache_start + 1s) == "v");   // hits 1
  CHECK(stale(c, "k", cache_start + 2s) == "v");   // hits 2
  CHECK(fresh(c, "other", cache_start) == miss);   // misses 2
  CHECK(stale(c, "other", cache_start) == miss);   // misses 3
  CHECK(fresh(c, "k", cache_start + 10s) == miss); // misses 4: past its near TTL
  CHECK(c.stats().hits == 2);
  CHECK(c.stats().misses == 4);
  CHECK(c.stats().evictions == 0);
  CHECK(c.stats().invalidations == 0);
  CHECK(c.stats().fills_refused == 0);
}

TEST_CASE("near cache: an entry whose Redis TTL is already over is not admitted") {
  near_cache c(1 << 20);
  CHECK_FALSE(fill(c, "k", "v", cache_start, 10s, cache_start));
  CHECK_FALSE(fill(c, "k", "v", cache_start, 10s, cache_start - 1ms));
  CHECK(c.entries() == 0);
  CHECK(c.bytes() == 0);
  CHECK(c.stats().fills_refused == 0); // not an invalidation's doing
  REQUIRE(fill(c, "k", "v", cache_start, 10s, cache_start + 1ms));
  CHECK(fresh(c, "k", cache_start) == "v");
  CHECK(fresh(c, "k", cache_start + 1ms) == miss);
}

// -- fills against invalidations --------------------------------------------------------------

TEST_CASE("near cache: a fill begun before an invalidation of its key is refused and another key's "
          "is admitted") {
  near_cache c(1 << 20);
  auto ticket_k = c.begin_fill();
  auto ticket_other = c.begin_fill();
  c.invalidate("k"); // a write of k landed while both reads were out
  SECTION("the other key's fill answers first") {
    CHECK(c.admit("other", "o", ticket_other, cache_start, 10s, cache_start + 60s));
    CHECK_FALSE(c.admit("k", "old", ticket_k, cache_start, 10s, cache_start + 60s));
  }
  SECTION("the invalidated key's fill answers first") {
    CHECK_FALSE(c.admit("k", "old", ticket_k, cache_start, 10s, cache_start + 60s));
    CHECK(c.admit("other", "o", ticket_other, cache_start, 10s, cache_start + 60s));
  }
  CHECK(c.stats().fills_refused == 1);
  CHECK(c.entries() == 1);
  CHECK(fresh(c, "k", cache_start) == miss);
  CHECK(fresh(c, "other", cache_start) == "o");
}

TEST_CASE("near cache: a fill begun after the invalidation is admitted and a late older one is "
          "refused") {
  near_cache c(1 << 20);
  auto before = c.begin_fill();
  c.invalidate("k");
  auto after = c.begin_fill();
  CHECK(c.admit("k", "new", after, cache_start, 10s, cache_start + 60s));
  CHECK_FALSE(c.admit("k", "old", before, cache_start, 10s, cache_start + 60s)); // the older read answers last
  CHECK(c.stats().fills_refused == 1);
  CHECK(fresh(c, "k", cache_start) == "new"); // a refused fill leaves what is cached alone
  CHECK(c.entries() == 1);
}

TEST_CASE("near cache: an invalidation drops its key's entry and counts it") {
  near_cache c(1 << 20);
  REQUIRE(fill(c, "k", "v1"));
  REQUIRE(fill(c, "j", "v"));
  c.invalidate("k");
  CHECK(c.stats().invalidations == 1);
  CHECK(c.entries() == 1);
  CHECK(c.bytes() == cost_of("j", "v"));
  CHECK(fresh(c, "k", cache_start) == miss);
  CHECK(fresh(c, "j", cache_start) == "v");
  c.invalidate("absent"); // nothing to drop: nothing counted
  CHECK(c.stats().invalidations == 1);
  // With no fill in flight at the invalidation, the next fill of the key is admitted.
  CHECK(fill(c, "k", "v2"));
  CHECK(fresh(c, "k", cache_start) == "v2");
  CHECK(c.stats().fills_refused == 0);
}

TEST_CASE("near cache: invalidate_matching refuses every fill in flight and drops only matches") {
  near_cache c(1 << 20);
  for (const char* k : {"user:1:profile", "user:2:profile", "user:1:orders", "session:9"})
    REQUIRE(fill(c, k, "v"));
  auto matching = c.begin_fill(); // user:3:profile
  auto other = c.begin_fill();    // session:10
  c.invalidate_matching("user:*:profile");
  CHECK(c.stats().invalidations == 2);
  CHECK(c.entries() == 2);
  CHECK(c.bytes() == cost_of("user:1:orders", "v") + cost_of("session:9", "v"));
  CHECK(fresh(c, "user:1:profile", cache_start) == miss);
  CHECK(fresh(c, "user:2:profile", cache_start) == miss);
  CHECK(fresh(c, "user:1:orders", cache_start) == "v");
  CHECK(fresh(c, "session:9", cache_start) == "v");
  // A pattern is not tracked per key: every fill begun before it goes, matching or not.
  CHECK_FALSE(c.admit("user:3:profile", "v", matching, cache_start, 10s, cache_start + 60s));
  CHECK_FALSE(c.admit("session:10", "v", other, cache_start, 10s, cache_start + 60s));
  CHECK(c.stats().fills_refused == 2);
  // Fills begun after it are admitted.
  CHECK(fill(c, "user:3:profile", "v"));
  CHECK(fill(c, "session:10", "v"));
  CHECK(c.entries() == 4);
}

TEST_CASE("near cache: flush drops everything and refuses the fills in flight") {
  near_cache c(1 << 20);
  REQUIRE(fill(c, "a", "v"));
  REQUIRE(fill(c, "b", "v"));
  auto ticket = c.begin_fill();
  c.flush();
  CHECK(c.entries() == 0);
  CHECK(c.bytes() == 0);
  CHECK(c.stats().invalidations == 2);
  CHECK(stale(c, "a", cache_start) == miss);
  CHECK(stale(c, "b", cache_start) == miss);
  CHECK_FALSE(c.admit("c", "v", ticket, cache_start, 10s, cache_start + 60s));
  CHECK(c.stats().fills_refused == 1);
  CHECK(fill(c, "a", "v2")); // begun after the flush
  CHECK(fresh(c, "a", cache_start) == "v2");
  CHECK(c.bytes() == cost_of("a", "v2"));
}

TEST_CASE("near cache: refuse_fills keeps the entries but refuses the fills in flight") {
  near_cache c(1 << 20);
  REQUIRE(fill(c, "a", "v", cache_start, 10s, cache_start + 60s));
  auto bytes = c.bytes();
  auto ticket = c.begin_fill();
  c.refuse_fills(); // the channel is lost
  CHECK(c.entries() == 1);
  CHECK(c.bytes() == bytes);
  CHECK(c.stats().invalidations == 0);
  CHECK(stale(c, "a", cache_start + 30s) == "v"); // still there for degraded answers
  CHECK_FALSE(c.admit("b", "v", ticket, cache_start, 10s, cache_start + 60s));
  CHECK(c.stats().fills_refused == 1);
  CHECK(fresh(c, "b", cache_start) == miss);
  CHECK(fill(c, "b", "v")); // begun after
  CHECK(c.entries() == 2);
}

TEST_CASE("near cache: an abandoned fill caches nothing and keeps the tracking of others in "
          "flight") {
  near_cache c(1 << 20);
  c.begin_fill(); // the read that gets no answer
  auto answered = c.begin_fill();
  c.invalidate("k");
  c.abandon_fill();
  CHECK(c.entries() == 0);
  CHECK(c.stats().fills_refused == 0); // abandoning is not a refusal
  // The other read of k is still in flight, so the invalidation still counts against it.
  CHECK_FALSE(c.admit("k", "old", answered, cache_start, 10s, cache_start + 60s));
  CHECK(c.stats().fills_refused == 1);
  // Nothing in flight any more: a new read of k is admitted.
  CHECK(fill(c, "k", "new"));
  CHECK(fresh(c, "k", cache_start) == "new");
}

TEST_CASE("near cache: abandon_fill with no fill in flight does not lose a later invalidation") {
  near_cache c(1 << 20);
  c.abandon_fill(); // one too many: must not wrap the count of fills in flight
  auto ticket = c.begin_fill();
  c.invalidate("k");
  CHECK_FALSE(c.admit("k", "old", ticket, cache_start, 10s, cache_start + 60s));
  CHECK(c.stats().fills_refused == 1);
  CHECK(c.entries() == 0);
}

// -- the byte budget --------------------------------------------------------------------------

TEST_CASE("near cache: the least recently used entry is evicted first and a get refreshes it") {
  const auto cost = cost_of("a", "1234"); // every key here is one byte, every value four
  near_cache c(3 * cost);
  for (const char* k : {"a", "b", "c"})
    REQUIRE(fill(c, k, "1234"));
  CHECK(c.entries() == 3);
  CHECK(c.bytes() == 3 * cost);
  CHECK(c.stats().evictions == 0);

  CHECK(fresh(c, "a", cache_start + 1s) == "1234"); // a is now the newest: b the oldest
  REQUIRE(fill(c, "d", "1234"));
  CHECK(c.stats().evictions == 1);
  CHECK(c.entries() == 3);
  CHECK(c.bytes() <= c.max_bytes());
  CHECK(fresh(c, "b", cache_start + 1s) == miss);
  // Newest first: d, a, c. get_stale refreshes too: c, d, a.
  CHECK(stale(c, "c", cache_start + 1s) == "1234");
  REQUIRE(fill(c, "e", "1234"));
  CHECK(c.stats().evictions == 2);
  CHECK(fresh(c, "a", cache_start + 1s) == miss);
  CHECK(fresh(c, "c", cache_start + 1s) == "1234");
  CHECK(fresh(c, "d", cache_start + 1s) == "1234");
  CHECK(fresh(c, "e", cache_start + 1s) == "1234");
  CHECK(c.bytes() == 3 * cost);

  // An entry twice as costly pushes out the two oldest: the reads above left e newest, then d,
  // then c, so c goes and then d.
  const std::string big(4 + cost, 'x');
  REQUIRE(cost_of("f", big) == 2 * cost);
  REQUIRE(fill(c, "f", big));
  CHECK(c.stats().evictions == 4);
  CHECK(c.entries() == 2);
  CHECK(c.bytes() == 3 * cost);
  CHECK(fresh(c, "e", cache_start + 1s) == "1234");
  CHECK(fresh(c, "f", cache_start + 1s) == big);
  CHECK(fresh(c, "c", cache_start + 1s) == miss);
  CHECK(fresh(c, "d", cache_start + 1s) == miss);
  CHECK(c.stats().invalidations == 0); // evictions are not invalidations
}

TEST_CASE("near cache: bytes never exceed the budget and are all given back") {
  near_cache c(4096);
  for (int i = 0; i < 400; ++i) {
    auto key = "k" + std::to_string(i % 37);
    std::string value(static_cast<std::size_t>((i * 97) % 1500), 'v');
    fill(c, key, value, cache_start, 10s, cache_start + 60s);
    REQUIRE(c.bytes() <= c.max_bytes());
    if (i % 3 == 0) c.get("k" + std::to_string(i % 11), cache_start + 1s);
    if (i % 7 == 0) c.invalidate("k" + std::to_string(i % 13));
    REQUIRE(c.bytes() <= c.max_bytes());
  }
  CHECK(c.stats().evictions > 0);
  CHECK(c.entries() > 0);
  for (int i = 0; i < 37; ++i)
    c.invalidate("k" + std::to_string(i));
  CHECK(c.entries() == 0);
  CHECK(c.bytes() == 0); // the account matches what was held
}

TEST_CASE("near cache: an entry larger than the whole budget is not admitted and evicts nothing") {
  near_cache c(cost_of("a", "v") + 100);
  REQUIRE(fill(c, "a", "v"));
  CHECK_FALSE(fill(c, "b", std::string(1000, 'x')));
  CHECK(c.entries() == 1);
  CHECK(c.bytes() == cost_of("a", "v"));
  CHECK(c.stats().evictions == 0);
  CHECK(c.stats().fills_refused == 0);
  CHECK(fresh(c, "a", cache_start) == "v");
  CHECK(fresh(c, "b", cache_start) == miss);
  // A budget of 0 (the near cache off) admits nothing.
  near_cache off(0);
  CHECK_FALSE(fill(off, "a", "v"));
  CHECK(off.entries() == 0);
  CHECK(off.bytes() == 0);
}

TEST_CASE("near cache: admitting an existing key replaces its entry and its cost") {
  near_cache c(1 << 20);
  REQUIRE(fill(c, "k", "short", cache_start, 1s, cache_start + 60s));
  REQUIRE(fill(c, "j", "v"));
  const std::string longer(1000, 'x');
  REQUIRE(fill(c, "k", longer, cache_start, 10s, cache_start + 60s));
  CHECK(c.entries() == 2);
  CHECK(c.bytes() == cost_of("k", longer) + cost_of("j", "v"));
  CHECK(fresh(c, "k", cache_start + 5s) == longer); // the new near TTL holds, not the old one's 1 s
  REQUIRE(fill(c, "k", "v2"));
  CHECK(c.entries() == 2);
  CHECK(c.bytes() == cost_of("k", "v2") + cost_of("j", "v"));
  CHECK(fresh(c, "k", cache_start) == "v2");
  CHECK(c.stats().evictions == 0);
  CHECK(c.stats().invalidations == 0);
  c.invalidate("k");
  c.invalidate("j");
  CHECK(c.entries() == 0);
  CHECK(c.bytes() == 0);
}

// -- glob_match -------------------------------------------------------------------------------

TEST_CASE("glob_match: star and question mark") {
  CHECK(glob_match("*", ""));
  CHECK(glob_match("*", "anything"));
  CHECK(glob_match("**", ""));
  CHECK(glob_match("?", "a"));
  CHECK_FALSE(glob_match("?", ""));
  CHECK_FALSE(glob_match("??", "a"));
  CHECK(glob_match("h?llo", "hello"));
  CHECK_FALSE(glob_match("h?llo", "hllo"));
  CHECK(glob_match("h*llo", "hllo"));
  CHECK(glob_match("h*llo", "heeeello"));
  CHECK_FALSE(glob_match("h*llo", "hello!"));
  CHECK(glob_match("abc*", "abc"));
  CHECK(glob_match("abc*", "abcdef"));
  CHECK(glob_match("*abc", "xxabc"));
  CHECK_FALSE(glob_match("*abc", "abcx"));
  CHECK(glob_match("*a*b", "xaxxb"));
  CHECK(glob_match("a*b*c", "abxbc"));
  CHECK(glob_match("*ab", "aab")); // the star gives back what it took
  CHECK_FALSE(glob_match("*:*", "k"));
}

TEST_CASE("glob_match: classes with sets ranges and negation") {
  CHECK(glob_match("h[ae]llo", "hello"));
  CHECK(glob_match("h[ae]llo", "hallo"));
  CHECK_FALSE(glob_match("h[ae]llo", "hillo"));
  CHECK(glob_match("h[^e]llo", "hallo"));
  CHECK(glob_match("h[^e]llo", "hbllo"));
  CHECK_FALSE(glob_match("h[^e]llo", "hello"));
  CHECK(glob_match("h[a-b]llo", "hallo"));
  CHECK(glob_match("h[a-b]llo", "hbllo"));
  CHECK_FALSE(glob_match("h[a-b]llo", "hcllo"));
  CHECK(glob_match("[a-z]", "m"));
  CHECK_FALSE(glob_match("[a-z]", "M"));
  CHECK_FALSE(glob_match("[a-z]", "-"));
  CHECK(glob_match("[z-a]", "m")); // a reversed range, as Redis reads it
  CHECK(glob_match("[^a-z]", "M"));
  CHECK_FALSE(glob_match("[^a-z]", "m"));
  CHECK(glob_match("*[0-9]", "abc7"));
  CHECK_FALSE(glob_match("*[0-9]", "abc"));
  CHECK(glob_match("a[bc]*d", "acxxd"));
}

TEST_CASE("glob_match: a backslash makes the next character plain") {
  CHECK(glob_match("a\\*b", "a*b"));
  CHECK_FALSE(glob_match("a\\*b", "axb"));
  CHECK(glob_match("\\?", "?"));
  CHECK_FALSE(glob_match("\\?", "x"));
  CHECK(glob_match("a\\[b", "a[b"));
  CHECK(glob_match("\\\\", "\\"));
  CHECK_FALSE(glob_match("\\\\", "x"));
  CHECK(glob_match("[\\]]", "]"));
  CHECK_FALSE(glob_match("[\\]]", "x"));
}

TEST_CASE("glob_match: a key pattern with a star between separators") {
  CHECK(glob_match("user:*:profile", "user:42:profile"));
  CHECK(glob_match("user:*:profile", "user::profile"));
  CHECK(glob_match("user:*:profile", "user:a:b:profile")); // a star spans separators
  CHECK_FALSE(glob_match("user:*:profile", "user:42:profiles"));
  CHECK_FALSE(glob_match("user:*:profile", "user:42:orders"));
  CHECK_FALSE(glob_match("user:*:profile", "admin:user:1:profile"));
}

TEST_CASE("glob_match: empty patterns and texts") {
  CHECK(glob_match("", ""));
  CHECK_FALSE(glob_match("", "a"));
  CHECK_FALSE(glob_match("a", ""));
  CHECK_FALSE(glob_match("[a]", ""));
}

TEST_CASE("glob_match: a pathological pattern finishes") {
  const std::string text(5000, 'a');
  CHECK_FALSE(glob_match("a*a*a*a*a*a*a*a*b", text));
  CHECK(glob_match("a*a*a*a*a*a*a*a*a", text));
}
