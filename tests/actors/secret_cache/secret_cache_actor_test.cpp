// The secret cache on virtual time, with a scripted link: loads publish decrypted snapshots
// and coalesce; announcements and acknowledgements that show Redis moved on cause a reload;
// a failed load keeps serving, marked stale, until the refresh reads it again; the refresh
// retires versions whose grace is over, collects use counts and says which rotations are due.
// A record Redis lost, or made again with its epoch counting from 1 (another incarnation), is
// noticed by an announcement or an acknowledgement that differs in any way, not only upwards.
#include <catch2/catch.hpp>

#include <caf/all.hpp>

#include "actors/secret_cache/secret_cache_actor.hpp"
#include "tests/support/fake_link.hpp"
#include "tests/support/test_keys.hpp"
#include "tests/support/virtual_time.hpp"

using namespace baton;
using namespace baton::secret;
using namespace std::chrono_literals;
using redis_link::redis_reply;
using redis_link::script_call;
using test::array_reply;
using test::integer_reply;
using test::string_reply;

namespace {

std::string text_of(const served_version& v) {
  return std::string(v.value->view());
}

struct cache_fixture {
  test::virtual_time time;
  std::shared_ptr<test::fake_link_script> redis = std::make_shared<test::fake_link_script>();
  std::shared_ptr<keyring> keys = test::test_keys(3);
  std::vector<cache_news> news;
  /// What secret_read answers, by secret name (a record with no fields if absent).
  std::map<std::string, redis_reply> records;
  std::map<std::pair<std::string, std::int64_t>, sealed_version> sealed_versions;
  std::string value_prefix = "value-"; ///< what set_record seals: "<prefix><version>"
  redis_reply ack_reply = integer_reply(0);
  bool reads_held = false;
  secret_cache_actor cache;
  secret_cache_deps deps;

  cache_fixture() {
    redis->answer = [this](const script_call& c) -> std::optional<redis_reply> {
      if (c.name == "secret_read") {
        if (reads_held) return std::nullopt;
        auto name = c.keys.at(0).substr(c.keys.at(0).find('{') + 1);
        name = name.substr(0, name.find('}'));
        auto it = records.find(name);
        return it == records.end() ? array_reply({integer_reply(1000)}) : it->second;
      }
      if (c.name == "secret_ack") return ack_reply;
      return integer_reply(1);
    };
    deps.link = test::spawn_fake_link(time.system(), redis);
    deps.keys = keys;
    deps.settings.refresh = 5000ms;
    deps.prefix = "t";
    deps.node_id = "n1";
    deps.tell = [this](std::vector<cache_news> batch) {
      for (auto& n : batch)
        news.push_back(std::move(n));
    };
  }

  // A periodic actor must be stopped before the system: at shutdown CAF's test coordinator
  // fires every pending timer, and a refresh re-arms itself for ever.
  ~cache_fixture() {
    if (cache) caf::anon_send_exit(cache, caf::exit_reason::user_shutdown);
    time.run();
  }

  void start() {
    cache = spawn_secret_cache(time.system(), deps);
    time.run();
  }

  /// A record whose current version is `current` (valued "value-<n>") and previous versions
  /// `previous` (with their grace ending at `grace_until`), at Redis time 1000.
  void set_record(const std::string& name, std::int64_t epoch, std::int64_t current,
                  std::vector<std::int64_t> previous = {}, std::int64_t grace_until = 61000,
                  std::int64_t rotated_at = 1000, const std::string& incarnation = "first") {
    std::vector<redis_reply> fields{integer_reply(1000),
                                    string_reply("epoch"),
                                    string_reply(std::to_string(epoch)),
                                    string_reply("incarnation"),
                                    string_reply(incarnation),
                                    string_reply("current"),
                                    string_reply(std::to_string(current)),
                                    string_reply("rotated_at"),
                                    string_reply(std::to_string(rotated_at))};
    auto add = [&](std::int64_t version, const std::string& state) {
      // Sealed once per version, as Redis keeps it: a version keeps its bytes across records.
      auto& sealed = sealed_versions[{name, version}];
      std::string error;
      if (sealed.ciphertext.empty())
        REQUIRE(seal(*keys, name, std::to_string(version),
                     secure_bytes(value_prefix + std::to_string(version)), sealed, error));
      auto field = [&](const std::string& f, const std::string& v) {
        fields.push_back(string_reply("v" + std::to_string(version) + "." + f));
        fields.push_back(string_reply(v));
      };
      field("state", state);
      field("kek", sealed.kek_id);
      field("wkey", sealed.wrapped_key);
      field("ct", sealed.ciphertext);
      if (state == "previous") field("grace_until", std::to_string(grace_until));
    };
    add(current, "current");
    for (auto v : previous)
      add(v, "previous");
    records[name] = array_reply(std::move(fields));
  }

  /// The same secret made again after Redis lost it: a new incarnation whose epoch and
  /// version count from 1 again, the same numbers as the one served, with another value.
  void remake_record(const std::string& name, std::int64_t epoch, std::int64_t current) {
    value_prefix = "again-";
    sealed_versions.clear();
    set_record(name, epoch, current, {}, 61000, 1000, "second");
  }

  static redis_reply ack_of(std::int64_t epoch, const std::string& incarnation) {
    return array_reply({integer_reply(epoch), string_reply(incarnation)});
  }

  void send_load(const std::string& name, std::uint64_t id) {
    caf::anon_send(cache, atoms::load::value, name, id);
    time.run();
  }

  std::vector<cache_news> of_kind(cache_news::kind k) const {
    std::vector<cache_news> out;
    for (const auto& n : news)
      if (n.what == k) out.push_back(n);
    return out;
  }

  std::shared_ptr<const served_secret> last_published(const std::string& name) const {
    std::shared_ptr<const served_secret> last;
    for (const auto& n : news)
      if (n.what == cache_news::kind::published && n.name == name) last = n.served;
    return last;
  }
};

} // namespace

TEST_CASE_METHOD(cache_fixture, "a load publishes the decrypted versions, then says it is over") {
  set_record("db", 7, 2, {1});
  start();
  send_load("db", 11);
  REQUIRE(news.size() == 2);
  CHECK(news[0].what == cache_news::kind::published); // before `loaded`: the reactor reads it
  CHECK(news[1].what == cache_news::kind::loaded);
  CHECK(news[1].id == 11);
  CHECK(news[1].ok);
  auto served = last_published("db");
  REQUIRE(served);
  CHECK(served->exists);
  CHECK(served->epoch == 7);
  REQUIRE(served->current);
  CHECK(text_of(*served->current) == "value-2");
  REQUIRE(served->previous.size() == 1);
  CHECK(text_of(served->previous[0]) == "value-1");
  CHECK(served->highest_version == 2);
  // A first load is no change for watchers, but what is served is acknowledged.
  CHECK(of_kind(cache_news::kind::changed).empty());
  CHECK(redis->count("secret_ack") == 1);
}

TEST_CASE_METHOD(cache_fixture, "loads asked while one is in flight share one more read") {
  set_record("db", 1, 1);
  start();
  reads_held = true;
  send_load("db", 1);
  send_load("db", 2);
  send_load("db", 3);
  CHECK(redis->count("secret_read") == 1);
  redis->answer_held(records["db"]);
  time.run(); // the first read answers 1; 2 and 3 wait for the one read after it
  REQUIRE(of_kind(cache_news::kind::loaded).size() == 1);
  CHECK(redis->count("secret_read") == 2);
  redis->answer_held(records["db"]);
  time.run();
  auto loaded = of_kind(cache_news::kind::loaded);
  REQUIRE(loaded.size() == 3);
  CHECK(loaded[1].id == 2);
  CHECK(loaded[2].id == 3);
  CHECK(redis->count("secret_read") == 2);
}

TEST_CASE_METHOD(cache_fixture, "an announcement of a newer epoch reloads, the same one does not") {
  set_record("db", 5, 1);
  start();
  send_load("db", 1);
  caf::anon_send(cache, atoms::announce::value, std::string("changed db 5 first"));
  caf::anon_send(cache, atoms::announce::value, std::string("changed db 5")); // older form
  caf::anon_send(cache, atoms::announce::value, std::string("changed other 9 first"));
  caf::anon_send(cache, atoms::announce::value, std::string("garbage"));
  caf::anon_send(cache, atoms::announce::value, std::string("changed db x first"));
  time.run();
  CHECK(redis->count("secret_read") == 1);
  set_record("db", 6, 2, {1});
  caf::anon_send(cache, atoms::announce::value, std::string("changed db 6"));
  time.run();
  CHECK(redis->count("secret_read") == 2);
  auto changed = of_kind(cache_news::kind::changed);
  REQUIRE(changed.size() == 1);
  CHECK(changed[0].name == "db");
  CHECK(changed[0].version == 2);
  CHECK(changed[0].epoch == 6);
  CHECK(text_of(*last_published("db")->current) == "value-2");
}

TEST_CASE_METHOD(cache_fixture,
                 "an announcement of a smaller epoch reloads: a history begun again") {
  set_record("db", 5, 1);
  start();
  send_load("db", 1);
  remake_record("db", 1, 1);
  // In the older form, without an incarnation: the epoch differs, and that is enough.
  caf::anon_send(cache, atoms::announce::value, std::string("changed db 1"));
  time.run();
  CHECK(redis->count("secret_read") == 2);
  auto served = last_published("db");
  CHECK(served->epoch == 1);
  CHECK(served->incarnation == "second");
  CHECK(text_of(*served->current) == "again-1");
}

TEST_CASE_METHOD(cache_fixture, "an announcement of another incarnation reloads at any epoch") {
  set_record("db", 1, 1);
  start();
  send_load("db", 1);
  remake_record("db", 1, 1); // Redis lost it and it was PUT again: epoch 1, version 1 again
  caf::anon_send(cache, atoms::announce::value, std::string("changed db 1 second"));
  time.run();
  CHECK(redis->count("secret_read") == 2);
  CHECK(text_of(*last_published("db")->current) == "again-1");
  // The same version number with another value is a change: watchers hear of it, and what is
  // served now is acknowledged.
  auto changed = of_kind(cache_news::kind::changed);
  REQUIRE(changed.size() == 1);
  CHECK(changed[0].version == 1);
  CHECK(redis->count("secret_ack") == 2);
}

TEST_CASE_METHOD(cache_fixture, "a version already open is reused, not decrypted again") {
  set_record("db", 5, 1);
  start();
  send_load("db", 1);
  auto first = last_published("db");
  set_record("db", 6, 2, {1}); // version 1 keeps its sealed bytes, now as the previous one
  send_load("db", 2);
  auto second = last_published("db");
  REQUIRE(second->previous.size() == 1);
  CHECK(second->previous[0].value == first->current->value); // the same plaintext, shared
  CHECK(second->current->value != first->current->value);
}

TEST_CASE_METHOD(cache_fixture, "an acknowledgement that shows a missed announcement reloads") {
  set_record("db", 5, 1);
  start();
  send_load("db", 1);
  CHECK(redis->count("secret_read") == 1);
  ack_reply = ack_of(5, "first"); // what is served: nothing to do
  time.advance(5000ms);
  CHECK(redis->count("secret_read") == 1);
  ack_reply = ack_of(8, "first"); // Redis is at epoch 8: an announcement never reached us
  time.advance(5000ms);           // the refresh acknowledges
  CHECK(redis->count("secret_read") == 2);
}

TEST_CASE_METHOD(
    cache_fixture,
    "an acknowledgement that shows the record made again reloads, at a smaller epoch") {
  set_record("db", 5, 1);
  start();
  send_load("db", 1);
  REQUIRE(text_of(*last_published("db")->current) == "value-1");
  // Redis lost its data, the secret was PUT again and its announcement missed this daemon.
  remake_record("db", 1, 1);
  ack_reply = ack_of(1, "second");
  time.advance(5000ms);
  CHECK(redis->count("secret_read") == 2);
  CHECK(text_of(*last_published("db")->current) == "again-1");
  // From then on the acknowledgements agree with what is served: no more reads.
  time.advance(5000ms);
  CHECK(redis->count("secret_read") == 2);
}

TEST_CASE_METHOD(cache_fixture, "an acknowledgement that shows the record gone reloads: absent") {
  set_record("db", 5, 1);
  start();
  send_load("db", 1);
  records.erase("db"); // Redis lost its data; nobody PUT the secret again
  ack_reply = ack_of(0, "");
  time.advance(5000ms);
  CHECK(redis->count("secret_read") == 2);
  auto served = last_published("db");
  CHECK_FALSE(served->exists); // GET answers nil, as for a name never PUT
  CHECK_FALSE(served->current);
}

TEST_CASE_METHOD(cache_fixture, "a failed load keeps serving, stale, until the refresh reads it") {
  set_record("db", 5, 1);
  start();
  send_load("db", 1);
  records["db"] = redis_reply::unavailable("redis is down");
  send_load("db", 2);
  auto loaded = of_kind(cache_news::kind::loaded);
  REQUIRE(loaded.size() == 2);
  CHECK_FALSE(loaded[1].ok);
  auto stale = last_published("db");
  CHECK(stale->stale);
  REQUIRE(stale->current);
  CHECK(text_of(*stale->current) == "value-1"); // still served
  set_record("db", 5, 1);
  time.advance(5000ms);
  CHECK_FALSE(last_published("db")->stale);
}

TEST_CASE_METHOD(cache_fixture, "a name never loaded that fails is not published") {
  records["db"] = redis_reply::unavailable("redis is down");
  start();
  send_load("db", 4);
  CHECK(of_kind(cache_news::kind::published).empty());
  auto loaded = of_kind(cache_news::kind::loaded);
  REQUIRE(loaded.size() == 1);
  CHECK_FALSE(loaded[0].ok);
}

TEST_CASE_METHOD(cache_fixture, "the refresh retires a previous version once its grace is over") {
  set_record("db", 5, 2, {1}, /*grace_until=*/3000); // 2 s of grace left at Redis time 1000
  start();
  send_load("db", 1);
  time.advance(5000ms);
  CHECK(redis->count("secret_retire") == 1);
  auto retire = redis->calls.back();
  for (const auto& c : redis->calls)
    if (c.name == "secret_retire") retire = c;
  CHECK(retire.args.at(2) == "db");
}

TEST_CASE_METHOD(cache_fixture, "the refresh collects use counts and flushes them per secret") {
  set_record("db", 5, 1);
  start();
  send_load("db", 1);
  time.advance(5000ms);
  REQUIRE(of_kind(cache_news::kind::collect_uses).size() == 1);
  caf::anon_send(cache, atoms::uses::value,
                 std::vector<secret_use>{{"db", 1, 4}, {"db", 2, 1}, {"api", 3, 9}});
  time.run();
  CHECK(redis->count("secret_count") == 2);
  for (const auto& c : redis->calls)
    if (c.name == "secret_count" && c.keys.at(0).find("{db}") != std::string::npos)
      CHECK(c.args == std::vector<std::string>{"1", "4", "2", "1"});
}

TEST_CASE_METHOD(cache_fixture, "a scheduled rotation is due once its period has passed") {
  secret_item item;
  item.name = "api";
  item.rotate_every = 500ms;
  deps.settings.items.push_back(item);
  set_record("api", 3, 4, {}, 0, /*rotated_at=*/0); // Redis read it 1000 ms after rotating
  start();
  send_load("api", 1);
  time.advance(5000ms);
  // Redis' clock is estimated as the record's plus the wall time since: at least 1000 ms since
  // the rotation, past its 500 ms period, so it is due, with the highest version as the floor.
  auto due = of_kind(cache_news::kind::rotation_due);
  REQUIRE(due.size() == 1);
  CHECK(due[0].name == "api");
  CHECK(due[0].version == 4);
}

TEST_CASE_METHOD(cache_fixture, "a configured secret not loaded yet is loaded by the refresh") {
  secret_item item;
  item.name = "api";
  item.rotate_every = 3600000ms;
  deps.settings.items.push_back(item);
  set_record("api", 3, 4);
  start();
  time.advance(5000ms);
  CHECK(redis->count("secret_read") == 1);
  CHECK(of_kind(cache_news::kind::rotation_due).empty()); // not before it is known
}

TEST_CASE_METHOD(cache_fixture,
                 "past the most names it holds, the least recently used is evicted") {
  deps.max_cached = 2;
  set_record("a", 1, 1);
  set_record("b", 1, 1);
  set_record("c", 1, 1);
  set_record("d", 1, 1);
  start();
  send_load("a", 1);
  send_load("b", 2);
  send_load("a", 3); // a is used again: b is now the least recently used
  send_load("c", 4);
  auto evicted = of_kind(cache_news::kind::evicted);
  REQUIRE(evicted.size() == 1);
  CHECK(evicted[0].name == "b");
  auto loaded = of_kind(cache_news::kind::loaded);
  REQUIRE(loaded.size() == 4);
  CHECK(loaded[3].ok); // not refused: evicted for
  CHECK(deps.counters->cached == 2);
  CHECK(deps.counters->evictions == 1);
  // Uses reported by the reactor count as recent too (a GET answered from memory).
  caf::anon_send(cache, atoms::uses::value, std::vector<secret_use>{{"a", 1, 0}});
  time.run();
  send_load("d", 5);
  evicted = of_kind(cache_news::kind::evicted);
  REQUIRE(evicted.size() == 2);
  CHECK(evicted[1].name == "c");
  // An evicted name is simply read again when next asked for.
  auto reads = redis->count("secret_read");
  send_load("b", 6);
  CHECK(redis->count("secret_read") == reads + 1);
  CHECK(of_kind(cache_news::kind::loaded).back().ok);
}

TEST_CASE_METHOD(cache_fixture, "a watched name is never evicted, however long unused") {
  deps.max_cached = 2;
  set_record("a", 1, 1);
  set_record("b", 1, 1);
  set_record("c", 1, 1);
  start();
  send_load("a", 1);
  send_load("b", 2);
  // The reactor reports a as watched; then b is used, so a is the least recently used.
  caf::anon_send(cache, atoms::uses::value, std::vector<secret_use>{{"a", 0, 0, true}});
  time.run();
  send_load("b", 3);
  send_load("c", 4);
  auto evicted = of_kind(cache_news::kind::evicted);
  REQUIRE(evicted.size() == 1);
  CHECK(evicted[0].name == "b"); // not a: its watchers hear of rotations only while it is held
  // Once nobody watches it, it is evicted like any other.
  caf::anon_send(cache, atoms::uses::value, std::vector<secret_use>{{"c", 1, 1}});
  time.run();
  send_load("b", 5);
  evicted = of_kind(cache_news::kind::evicted);
  REQUIRE(evicted.size() == 2);
  CHECK(evicted[1].name == "a");
}

TEST_CASE_METHOD(cache_fixture, "a name being loaded is not evicted: past the cap then, refused") {
  deps.max_cached = 2;
  reads_held = true;
  start();
  send_load("a", 1);
  send_load("b", 2);
  send_load("c", 3);
  CHECK(redis->count("secret_read") == 2);
  CHECK(of_kind(cache_news::kind::evicted).empty());
  auto loaded = of_kind(cache_news::kind::loaded);
  REQUIRE(loaded.size() == 1);
  CHECK_FALSE(loaded[0].ok);
  CHECK(loaded[0].id == 3);
  CHECK(deps.counters->cached == 2);
}
