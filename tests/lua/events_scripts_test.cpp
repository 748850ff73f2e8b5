// lua/events_*.lua on a real redis-server: events_publish appends the payload (field "p") to the
// topic's stream, answers an id "<ms>-<seq>" that grows, announces the topic on the news channel
// (read on a second connection subscribed before), and trims by length and by age (approximately:
// whole stream nodes); events_group_create makes a group once (again is 0, not BUSYGROUP) from
// the end or the start, and the stream with it; events_group_read gives each entry to one
// consumer and makes a lost group again from the start; events_ack counts what it acknowledged
// and, with "trim", removes only the entries no group still holds or has yet to be given;
// events_claim hands entries idle long enough to another consumer.
#include <catch2/catch.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include "protocol/resp_client.hpp"
#include "tests/support/script_runner.hpp"
#include "tests/support/test_redis.hpp"

using namespace baton;
using namespace std::chrono_literals;
using protocol::resp_value;

namespace {

const std::string topic = "orders";
const std::string key = "baton:events:{orders}";
const std::string news_channel = "baton:events-news";
const std::string week_ms = "604800000";

/// An event id, "<ms>-<seq>", as numbers.
struct event_id {
  unsigned long long ms = 0;
  unsigned long long seq = 0;
  bool operator<(const event_id& other) const {
    return std::tie(ms, seq) < std::tie(other.ms, other.seq);
  }
};

bool all_digits(const std::string& text) {
  return !text.empty() && text.size() <= 20 &&
         text.find_first_not_of("0123456789") == std::string::npos;
}

/// Reads "<ms>-<seq>"; false for any other form.
bool parse_id(const std::string& text, event_id& out) {
  auto dash = text.find('-');
  if (dash == std::string::npos) return false;
  auto ms_part = text.substr(0, dash);
  auto seq_part = text.substr(dash + 1);
  if (!all_digits(ms_part) || !all_digits(seq_part)) return false;
  out.ms = std::stoull(ms_part);
  out.seq = std::stoull(seq_part);
  return true;
}

/// The ids of entries as XRANGE, XREADGROUP and XAUTOCLAIM give them: {{id, {f, v, ...}}, ...}.
std::vector<std::string> ids_of(const resp_value& entries) {
  std::vector<std::string> out;
  for (const auto& e : entries.elements)
    out.push_back(e.elements.at(0).str);
  return out;
}

/// The payload of each entry (field "p", its only field).
std::vector<std::string> payloads_of(const resp_value& entries) {
  std::vector<std::string> out;
  for (const auto& e : entries.elements) {
    const auto& fields = e.elements.at(1);
    REQUIRE(fields.elements.size() == 2);
    CHECK(fields.elements[0].str == "p");
    out.push_back(fields.elements[1].str);
  }
  return out;
}

/// The entries of a group read's reply {entries, made}, the shape checked.
const resp_value& entries_of(const resp_value& reply) {
  INFO(reply.to_string());
  REQUIRE(reply.kind == resp_value::type::array);
  REQUIRE(reply.elements.size() == 2);
  REQUIRE(reply.elements[0].kind == resp_value::type::array);
  REQUIRE(reply.elements[1].kind == resp_value::type::integer);
  return reply.elements[0];
}

/// Whether a group read made the group again: the reply's second element.
std::int64_t made_of(const resp_value& reply) {
  entries_of(reply); // the shape
  return reply.elements[1].integer;
}

/// The two counts of events_ack's reply {acknowledged, trimmed}.
std::int64_t acknowledged_of(const resp_value& reply) {
  INFO(reply.to_string());
  REQUIRE(reply.kind == resp_value::type::array);
  REQUIRE(reply.elements.size() == 2);
  return reply.elements[0].integer;
}
std::int64_t trimmed_of(const resp_value& reply) {
  INFO(reply.to_string());
  REQUIRE(reply.kind == resp_value::type::array);
  REQUIRE(reply.elements.size() == 2);
  return reply.elements[1].integer;
}

std::vector<std::string> slice(const std::vector<std::string>& all, std::size_t from,
                               std::size_t to) {
  return std::vector<std::string>(all.begin() + static_cast<std::ptrdiff_t>(from),
                                  all.begin() + static_cast<std::ptrdiff_t>(to));
}

struct events_fixture {
  test::test_redis redis;
  test::script_runner lua{redis.socket_path()};
  /// A second connection, for the news channel's messages.
  protocol::resp_client listener{redis.socket_path()};

  /// Subscribes `listener` to the news channel and waits for the confirmation.
  void subscribe() {
    listener.send({"SUBSCRIBE", news_channel});
    auto confirmed = listener.read();
    INFO(confirmed.to_string());
    REQUIRE(confirmed.kind == resp_value::type::array);
    REQUIRE(confirmed.elements.size() == 3);
    REQUIRE(confirmed.elements[0].str == "subscribe");
    REQUIRE(confirmed.elements[1].str == news_channel);
    REQUIRE(confirmed.elements[2].integer == 1);
  }
  /// The payload of the next message on the news channel (the read throws after 5 s without).
  std::string next_message() {
    auto message = listener.read();
    INFO(message.to_string());
    REQUIRE(message.kind == resp_value::type::array);
    REQUIRE(message.elements.size() == 3);
    CHECK(message.elements[0].str == "message");
    CHECK(message.elements[1].str == news_channel);
    return message.elements[2].str;
  }
  /// Publishes a sentinel: the next message read is it if nothing else was published before.
  void publish_sentinel() { REQUIRE(lua.call({"PUBLISH", news_channel, "sentinel"}).integer == 1); }

  resp_value publish(const std::string& payload, const std::string& max_length = "100000",
                     const std::string& max_age_ms = week_ms) {
    return lua.run("events_publish", {key}, {payload, max_length, max_age_ms, news_channel, topic});
  }
  /// Publishes with the default limits and answers the event's id.
  std::string publish_id(const std::string& payload) {
    auto r = publish(payload);
    INFO(r.to_string());
    REQUIRE(r.kind == resp_value::type::bulk);
    return r.str;
  }
  /// Publishes "e0", "e1", ... and answers their ids.
  std::vector<std::string> publish_many(int count) {
    std::vector<std::string> out;
    for (int i = 0; i < count; ++i)
      out.push_back(publish_id("e" + std::to_string(i)));
    return out;
  }
  resp_value create_group(const std::string& group, const std::string& from) {
    return lua.run("events_group_create", {key}, {group, from});
  }
  resp_value read_group(const std::string& group, const std::string& consumer, int count) {
    return lua.run("events_group_read", {key}, {group, consumer, std::to_string(count)});
  }
  resp_value ack(const std::string& group, bool trim, const std::vector<std::string>& ids) {
    std::vector<std::string> args = {group, trim ? "trim" : ""};
    args.insert(args.end(), ids.begin(), ids.end());
    return lua.run("events_ack", {key}, args);
  }
  resp_value claim(const std::string& group, const std::string& consumer,
                   const std::string& min_idle_ms, int count) {
    return lua.run("events_claim", {key}, {group, consumer, min_idle_ms, std::to_string(count)});
  }

  std::int64_t length() { return lua.call({"XLEN", key}).integer; }
  /// The ids the stream keeps, oldest first.
  std::vector<std::string> stream_ids() { return ids_of(lua.call({"XRANGE", key, "-", "+"})); }
  /// How many entries `group` holds delivered and unacknowledged (XPENDING's summary).
  std::int64_t pending_count(const std::string& group) {
    auto summary = lua.call({"XPENDING", key, group});
    INFO(summary.to_string());
    REQUIRE(summary.kind == resp_value::type::array);
    REQUIRE_FALSE(summary.elements.empty());
    return summary.elements[0].integer;
  }
  /// {id, consumer, idle ms, deliveries} of a pending entry of `group`; empty if not pending.
  resp_value pending_entry(const std::string& group, const std::string& id) {
    auto found = lua.call({"XPENDING", key, group, id, id, "1"});
    INFO(found.to_string());
    REQUIRE(found.kind == resp_value::type::array);
    if (found.elements.empty()) return resp_value{};
    REQUIRE(found.elements[0].elements.size() == 4);
    return found.elements[0];
  }
  /// Redis' clock (TIME) in milliseconds.
  unsigned long long redis_ms() {
    auto t = lua.call({"TIME"});
    REQUIRE(t.elements.size() == 2);
    return std::stoull(t.elements[0].str) * 1000 + std::stoull(t.elements[1].str) / 1000;
  }
};

} // namespace

// -- events_publish ---------------------------------------------------------------------------

TEST_CASE_METHOD(events_fixture, "events_publish appends and XLEN grows by one each time") {
  CHECK(length() == 0);
  for (int i = 1; i <= 5; ++i) {
    auto r = publish("e" + std::to_string(i));
    INFO(r.to_string());
    REQUIRE(r.kind == resp_value::type::bulk);
    CHECK(length() == i);
  }
}

TEST_CASE_METHOD(events_fixture,
                 "events_publish answers an id ms-seq from Redis' clock that grows") {
  auto before = redis_ms();
  event_id last;
  std::vector<std::string> answered;
  for (int i = 0; i < 50; ++i) {
    auto id = publish_id("e" + std::to_string(i));
    INFO(id);
    event_id parsed;
    REQUIRE(parse_id(id, parsed));
    CHECK(parsed.ms >= before);
    if (i > 0) {
      CHECK(last < parsed);
    }
    last = parsed;
    answered.push_back(id);
  }
  CHECK(last.ms <= redis_ms());
  // The ids answered are the stream's, in order.
  CHECK(stream_ids() == answered);
}

TEST_CASE_METHOD(events_fixture, "events_publish stores the payload whole in field p") {
  const std::string binary("a\0b \r\nc", 7);
  auto first = publish_id("hello world");
  auto second = publish_id(binary);
  auto third = publish_id("");
  auto entries = lua.call({"XRANGE", key, "-", "+"});
  INFO(entries.to_string());
  REQUIRE(entries.elements.size() == 3);
  const std::vector<std::string> ids = {first, second, third};
  CHECK(ids_of(entries) == ids);
  const std::vector<std::string> payloads = {"hello world", binary, ""};
  CHECK(payloads_of(entries) == payloads);
}

TEST_CASE_METHOD(events_fixture, "events_publish announces the topic once on the news channel") {
  subscribe();
  REQUIRE(publish("e1").kind == resp_value::type::bulk);
  CHECK(next_message() == topic);
  publish_sentinel();
  CHECK(next_message() == "sentinel"); // one message per event, not more
  REQUIRE(publish("e2").kind == resp_value::type::bulk);
  CHECK(next_message() == topic);
}

TEST_CASE_METHOD(events_fixture, "events_publish trims by length approximately") {
  std::string newest;
  for (int i = 0; i < 3000; ++i) {
    auto r = publish("e" + std::to_string(i), "100");
    REQUIRE(r.kind == resp_value::type::bulk);
    newest = r.str;
  }
  auto kept = length();
  INFO("XLEN " << kept);
  CHECK(kept >= 100); // "~" never trims below the length asked for
  CHECK(kept < 300);  // ... and drops whole nodes past it
  auto ids = stream_ids();
  REQUIRE_FALSE(ids.empty());
  CHECK(ids.back() == newest); // the newest is kept, the oldest went
}

TEST_CASE_METHOD(events_fixture, "events_publish trims events older than max age in ms") {
  // With "~" Redis drops only whole nodes of the stream, so an old entry sharing its node with
  // newer ones stays (the contract: approximately). One entry per node makes "~" exact and shows
  // where the script puts the limit: 60 s before Redis' clock.
  REQUIRE(lua.call({"CONFIG", "SET", "stream-node-max-entries", "1"}).str == "OK");
  auto now = redis_ms();
  const std::string older = std::to_string(now - 120000) + "-0";
  const std::string recent = std::to_string(now - 10000) + "-0";
  REQUIRE(lua.call({"XADD", key, "1000-0", "p", "ancient"}).str == "1000-0");
  REQUIRE(lua.call({"XADD", key, older, "p", "two minutes"}).str == older);
  REQUIRE(lua.call({"XADD", key, recent, "p", "ten seconds"}).str == recent);
  auto r = publish("new", "100000", "60000");
  INFO(r.to_string());
  REQUIRE(r.kind == resp_value::type::bulk);
  INFO(lua.call({"XRANGE", key, "-", "+"}).to_string());
  // Nothing older than 60 s is kept (1000-0 is gone), everything newer is.
  const std::vector<std::string> expected = {recent, r.str};
  CHECK(stream_ids() == expected);
}

TEST_CASE_METHOD(events_fixture, "events_publish drops a whole node of events past max age") {
  REQUIRE(lua.call({"CONFIG", "SET", "stream-node-max-entries", "100"}).str == "OK");
  for (int i = 1; i <= 150; ++i) {
    auto id = "1000-" + std::to_string(i);
    REQUIRE(lua.call({"XADD", key, id, "p", "old"}).str == id);
  }
  // Their ids are from 1970: all past a max age of 60 s. With "~" the nodes made only of them go.
  auto r = publish("new", "100000", "60000");
  INFO(r.to_string());
  REQUIRE(r.kind == resp_value::type::bulk);
  auto ids = stream_ids();
  REQUIRE_FALSE(ids.empty());
  CHECK(ids.back() == r.str);
  // The first node (1000-1 to 1000-100, all past max age) is gone.
  CHECK(ids.front() != "1000-1");
  CHECK(length() <= 51);
  for (const auto& id : ids) {
    INFO(id);
    event_id parsed;
    REQUIRE(parse_id(id, parsed));
    if (parsed.ms == 1000) {
      CHECK(parsed.seq > 100);
    }
  }
}

TEST_CASE_METHOD(events_fixture,
                 "events_publish with a dedup key appends once and answers the first id again") {
  const std::string dedup = "baton:events:{orders}:dedup:order-7";
  auto dedup_publish = [&](const std::string& payload, const std::string& dedup_key) {
    return lua.run("events_publish", {key, dedup_key},
                   {payload, "100000", week_ms, news_channel, "orders", "120000"});
  };
  subscribe();
  auto first = dedup_publish("order 7", dedup);
  INFO(first.to_string());
  REQUIRE(first.kind == resp_value::type::bulk);
  CHECK(next_message() == "orders");
  // The same key again (a publisher that lost its answer): nothing appended, no news, same id.
  auto again = dedup_publish("order 7", dedup);
  CHECK(again.kind == resp_value::type::bulk);
  CHECK(again.str == first.str);
  CHECK(length() == 1);
  publish_sentinel();
  CHECK(next_message() == "sentinel");
  // The key remembers the id for the window, no longer.
  auto ttl = lua.call({"PTTL", dedup}).integer;
  CHECK(ttl > 0);
  CHECK(ttl <= 120000);
  CHECK(lua.call({"GET", dedup}).str == first.str);
  // Another key is another event.
  auto other = dedup_publish("order 8", "baton:events:{orders}:dedup:order-8");
  CHECK(other.str != first.str);
  CHECK(length() == 2);
  // Once the key is gone (the window passed), the same key publishes anew.
  REQUIRE(lua.call({"DEL", dedup}).integer == 1);
  auto later = dedup_publish("order 7", dedup);
  CHECK(later.str != first.str);
  CHECK(length() == 3);
}

// -- events_group_create ----------------------------------------------------------------------

TEST_CASE_METHOD(events_fixture, "events_group_create answers 1 then 0 and BUSYGROUP is no error") {
  publish_many(2);
  auto made = create_group("g", "$");
  INFO(made.to_string());
  CHECK(made.kind == resp_value::type::integer);
  CHECK(made.integer == 1);
  auto again = create_group("g", "$");
  INFO(again.to_string());
  CHECK(again.kind == resp_value::type::integer);
  CHECK(again.integer == 0);
  // Again from elsewhere: still 0, and the group keeps where it started.
  CHECK(create_group("g", "0").integer == 0);
  CHECK(entries_of(read_group("g", "c", 10)).elements.empty());
  auto groups = lua.call({"XINFO", "GROUPS", key});
  INFO(groups.to_string());
  CHECK(groups.elements.size() == 1);
}

TEST_CASE_METHOD(events_fixture, "events_group_create makes the stream when it is absent") {
  REQUIRE(lua.call({"EXISTS", key}).integer == 0);
  CHECK(create_group("g", "$").integer == 1);
  CHECK(lua.call({"EXISTS", key}).integer == 1);
  CHECK(length() == 0);
  CHECK(lua.call({"XINFO", "GROUPS", key}).elements.size() == 1);
  // And its first event is the group's.
  auto id = publish_id("first");
  auto got = read_group("g", "c", 10);
  const std::vector<std::string> expected = {id};
  CHECK(ids_of(entries_of(got)) == expected);
}

TEST_CASE_METHOD(events_fixture, "events_group_create from the end starts after existing entries") {
  publish_many(3);
  REQUIRE(create_group("late", "$").integer == 1);
  auto nothing = read_group("late", "c", 10);
  CHECK(entries_of(nothing).elements.empty());
  CHECK(made_of(nothing) == 0);
  auto id = publish_id("after");
  auto got = read_group("late", "c", 10);
  const std::vector<std::string> expected = {id};
  CHECK(ids_of(entries_of(got)) == expected);
  CHECK(made_of(got) == 0);
}

TEST_CASE_METHOD(events_fixture, "events_group_create from 0 includes existing entries") {
  auto ids = publish_many(3);
  REQUIRE(create_group("early", "0").integer == 1);
  ids.push_back(publish_id("after"));
  auto got = read_group("early", "c", 10);
  CHECK(ids_of(entries_of(got)) == ids);
  const std::vector<std::string> payloads = {"e0", "e1", "e2", "after"};
  CHECK(payloads_of(entries_of(got)) == payloads);
  CHECK(made_of(got) == 0);
}

TEST_CASE_METHOD(events_fixture, "events_group_create from an invalid id is an error") {
  auto r = create_group("g", "not-an-id");
  INFO(r.to_string());
  CHECK(r.is_error());
}

// -- events_group_read ------------------------------------------------------------------------

TEST_CASE_METHOD(events_fixture, "events_group_read delivers each entry once across consumers") {
  auto ids = publish_many(5);
  REQUIRE(create_group("g", "0").integer == 1);
  auto to_c1 = read_group("g", "c1", 2);
  CHECK(ids_of(entries_of(to_c1)) == slice(ids, 0, 2));
  CHECK(made_of(to_c1) == 0);
  auto to_c2 = read_group("g", "c2", 10);
  CHECK(ids_of(entries_of(to_c2)) == slice(ids, 2, 5));
  CHECK(made_of(to_c2) == 0);
  const std::vector<std::string> payloads = {"e2", "e3", "e4"};
  CHECK(payloads_of(entries_of(to_c2)) == payloads);
  // Nothing is left for either.
  auto rest_c1 = read_group("g", "c1", 10);
  CHECK(entries_of(rest_c1).elements.empty());
  CHECK(made_of(rest_c1) == 0);
  CHECK(entries_of(read_group("g", "c2", 10)).elements.empty());
  // Each is pending with the consumer that got it.
  CHECK(pending_count("g") == 5);
  for (std::size_t i = 0; i < ids.size(); ++i) {
    INFO(ids[i]);
    auto entry = pending_entry("g", ids[i]);
    REQUIRE(entry.elements.size() == 4);
    CHECK(entry.elements[1].str == (i < 2 ? "c1" : "c2"));
    CHECK(entry.elements[3].integer == 1);
  }
}

TEST_CASE_METHOD(events_fixture, "events_group_read with no new entries answers an empty list") {
  publish_many(2);
  REQUIRE(create_group("g", "$").integer == 1);
  auto r = read_group("g", "c", 10);
  INFO(r.to_string());
  CHECK(entries_of(r).elements.empty());
  CHECK(made_of(r) == 0);
  // Also once all were read.
  auto id = publish_id("one");
  REQUIRE(entries_of(read_group("g", "c", 10)).elements.size() == 1);
  auto again = read_group("g", "c", 10);
  CHECK(entries_of(again).elements.empty());
  CHECK(made_of(again) == 0);
  CHECK(stream_ids().back() == id);
}

TEST_CASE_METHOD(events_fixture, "events_group_read makes a destroyed group again from the start") {
  auto ids = publish_many(4);
  REQUIRE(create_group("g", "$").integer == 1);
  auto later = publish_id("later");
  auto first = read_group("g", "c", 10);
  const std::vector<std::string> only_later = {later};
  REQUIRE(ids_of(entries_of(first)) == only_later);
  REQUIRE(acknowledged_of(ack("g", false, only_later)) == 1);
  REQUIRE(lua.call({"XGROUP", "DESTROY", key, "g"}).integer == 1);
  // Made again from 0: everything the stream keeps, the entries from before its first start too.
  ids.push_back(later);
  auto again = read_group("g", "c", 3);
  CHECK(ids_of(entries_of(again)) == slice(ids, 0, 3));
  CHECK(made_of(again) == 1);
  auto rest = read_group("g", "c", 10);
  CHECK(ids_of(entries_of(rest)) == slice(ids, 3, 5));
  CHECK(made_of(rest) == 0); // there now
  CHECK(lua.call({"XINFO", "GROUPS", key}).elements.size() == 1);
}

TEST_CASE_METHOD(events_fixture, "events_group_read of an absent stream makes group and stream") {
  REQUIRE(lua.call({"EXISTS", key}).integer == 0);
  auto r = read_group("g", "c", 10);
  INFO(r.to_string());
  CHECK(entries_of(r).elements.empty());
  CHECK(made_of(r) == 1);
  CHECK(lua.call({"EXISTS", key}).integer == 1);
  auto id = publish_id("first");
  auto got = read_group("g", "c", 10);
  const std::vector<std::string> expected = {id};
  CHECK(ids_of(entries_of(got)) == expected);
  CHECK(made_of(got) == 0);
}

// -- events_ack -------------------------------------------------------------------------------

TEST_CASE_METHOD(events_fixture, "events_ack acknowledges and answers how many") {
  auto ids = publish_many(3);
  REQUIRE(create_group("g", "0").integer == 1);
  REQUIRE(entries_of(read_group("g", "c", 10)).elements.size() == 3);
  REQUIRE(pending_count("g") == 3);
  auto r = ack("g", false, slice(ids, 0, 2));
  INFO(r.to_string());
  CHECK(acknowledged_of(r) == 2);
  CHECK(trimmed_of(r) == 0);
  CHECK(pending_count("g") == 1);
  CHECK(pending_entry("g", ids[0]).elements.empty());
  CHECK(pending_entry("g", ids[2]).elements.size() == 4);
  // Acknowledged already: not counted again.
  auto again = ack("g", false, slice(ids, 0, 2));
  CHECK(acknowledged_of(again) == 0);
  CHECK(trimmed_of(again) == 0);
}

TEST_CASE_METHOD(events_fixture, "events_ack without trim trims nothing") {
  auto ids = publish_many(4);
  REQUIRE(create_group("g", "0").integer == 1);
  REQUIRE(entries_of(read_group("g", "c", 10)).elements.size() == 4);
  auto r = ack("g", false, ids);
  INFO(r.to_string());
  CHECK(acknowledged_of(r) == 4);
  CHECK(trimmed_of(r) == 0);
  CHECK(pending_count("g") == 0);
  CHECK(stream_ids() == ids); // every group acknowledged them all, and they stay
}

TEST_CASE_METHOD(events_fixture,
                 "events_ack with trim removes only what every group acknowledged") {
  auto ids = publish_many(6);
  REQUIRE(create_group("g1", "0").integer == 1);
  REQUIRE(create_group("g2", "0").integer == 1);

  // g1 takes and acknowledges all: g2 has been given none yet, so none may go.
  REQUIRE(ids_of(entries_of(read_group("g1", "c", 10))) == ids);
  auto g1_all = ack("g1", true, ids);
  INFO("g1 acknowledges all: " << g1_all.to_string());
  CHECK(acknowledged_of(g1_all) == 6);
  CHECK(trimmed_of(g1_all) == 0);
  CHECK(stream_ids() == ids);

  // g2 takes four and acknowledges the second and third: the first is still pending in g2.
  REQUIRE(ids_of(entries_of(read_group("g2", "c", 4))) == slice(ids, 0, 4));
  auto g2_middle = ack("g2", true, slice(ids, 1, 3));
  INFO("g2 acknowledges 1 and 2: " << g2_middle.to_string());
  CHECK(acknowledged_of(g2_middle) == 2);
  CHECK(trimmed_of(g2_middle) == 0);
  CHECK(length() == 6);

  // g2 acknowledges the first: 0 to 2 go; 3 is pending in g2, 4 and 5 not delivered to g2.
  auto g2_first = ack("g2", true, slice(ids, 0, 1));
  INFO("g2 acknowledges 0: " << g2_first.to_string());
  CHECK(acknowledged_of(g2_first) == 1);
  CHECK(trimmed_of(g2_first) == 3);
  CHECK(stream_ids() == slice(ids, 3, 6));
  CHECK(length() == 3);

  // g2 acknowledges 3: it goes; 4 and 5, which g2 has not been given, stay.
  auto g2_fourth = ack("g2", true, slice(ids, 3, 4));
  INFO("g2 acknowledges 3: " << g2_fourth.to_string());
  CHECK(acknowledged_of(g2_fourth) == 1);
  CHECK(trimmed_of(g2_fourth) == 1);
  CHECK(stream_ids() == slice(ids, 4, 6));

  // An ACK of g1 again trims no more.
  auto g1_again = ack("g1", true, slice(ids, 5, 6));
  CHECK(acknowledged_of(g1_again) == 0);
  CHECK(trimmed_of(g1_again) == 0);
  CHECK(length() == 2);

  // g2 takes and acknowledges the rest: nothing is left that a group needs.
  REQUIRE(ids_of(entries_of(read_group("g2", "c", 10))) == slice(ids, 4, 6));
  auto g2_rest = ack("g2", true, slice(ids, 4, 6));
  INFO("g2 acknowledges 4 and 5: " << g2_rest.to_string());
  CHECK(acknowledged_of(g2_rest) == 2);
  CHECK(trimmed_of(g2_rest) == 2);
  CHECK(length() == 0);
}

TEST_CASE_METHOD(events_fixture,
                 "events_ack with trim keeps what another group has not been given") {
  auto ids = publish_many(5);
  REQUIRE(create_group("g1", "0").integer == 1);
  REQUIRE(create_group("g2", "0").integer == 1);
  // g2 takes two and acknowledges them (without trim); g1 takes all and acknowledges all.
  REQUIRE(ids_of(entries_of(read_group("g2", "c", 2))) == slice(ids, 0, 2));
  REQUIRE(acknowledged_of(ack("g2", false, slice(ids, 0, 2))) == 2);
  REQUIRE(ids_of(entries_of(read_group("g1", "c", 10))) == ids);
  auto r = ack("g1", true, ids);
  INFO(r.to_string());
  CHECK(acknowledged_of(r) == 5);
  CHECK(trimmed_of(r) == 2);
  CHECK(stream_ids() == slice(ids, 2, 5));
}

// -- events_claim -----------------------------------------------------------------------------

TEST_CASE_METHOD(events_fixture,
                 "events_claim gives entries idle past min idle to another consumer") {
  auto ids = publish_many(3);
  REQUIRE(create_group("g", "0").integer == 1);
  REQUIRE(ids_of(entries_of(read_group("g", "dead", 2))) == slice(ids, 0, 2));
  std::this_thread::sleep_for(50ms);
  auto claimed = claim("g", "live", "20", 10);
  INFO(claimed.to_string());
  REQUIRE(claimed.kind == resp_value::type::array);
  CHECK(ids_of(claimed) == slice(ids, 0, 2));
  const std::vector<std::string> payloads = {"e0", "e1"};
  CHECK(payloads_of(claimed) == payloads);
  for (std::size_t i = 0; i < 2; ++i) {
    INFO(ids[i]);
    auto entry = pending_entry("g", ids[i]);
    REQUIRE(entry.elements.size() == 4);
    CHECK(entry.elements[1].str == "live");
    CHECK(entry.elements[3].integer == 2); // delivered twice now
  }
  CHECK(pending_count("g") == 2);
  // The one never delivered is not claimed: it is the group's next read.
  auto following = read_group("g", "live", 10);
  const std::vector<std::string> last = {ids[2]};
  CHECK(ids_of(entries_of(following)) == last);
}

TEST_CASE_METHOD(events_fixture, "events_claim gives nothing when min idle is large") {
  auto ids = publish_many(2);
  REQUIRE(create_group("g", "0").integer == 1);
  REQUIRE(ids_of(entries_of(read_group("g", "dead", 10))) == ids);
  std::this_thread::sleep_for(50ms);
  auto claimed = claim("g", "live", "600000", 10);
  INFO(claimed.to_string());
  REQUIRE(claimed.kind == resp_value::type::array);
  CHECK(claimed.elements.empty());
  for (const auto& id : ids) {
    INFO(id);
    auto entry = pending_entry("g", id);
    REQUIRE(entry.elements.size() == 4);
    CHECK(entry.elements[1].str == "dead"); // still with the one that took it
    CHECK(entry.elements[3].integer == 1);
  }
}
