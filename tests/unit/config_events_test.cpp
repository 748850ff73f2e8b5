// The events section: the defaults without it (or with it empty), every field read, the lowest
// and highest values accepted, and every mistake (an unknown key, max_age_ms under a second,
// max_read_count 0, trim_acknowledged not a bool, other values out of bounds or not numbers, a
// section that is not a map) reported at its file:line:column, all at once, the good fields
// beside them still read.
#include <catch2/catch.hpp>

#include <chrono>
#include <cstddef>
#include <iterator>
#include <string>

#include "daemon/config_loader.hpp"
#include "model/events/events_settings.hpp"
#include "tests/support/config_problems.hpp"

using namespace baton;
using namespace std::chrono_literals;

using baton::test::dump;
using baton::test::has_problem;

TEST_CASE("without an events section EVENTS has its defaults") {
  auto r = load_config_text("", "empty.yaml");
  INFO(dump(r));
  REQUIRE(r.ok());
  const auto& e = r.cfg.events;
  CHECK(e == baton::events::events_config{});
  CHECK(e.max_length == 100000);
  CHECK(e.max_age == 168h); // a week
  CHECK(e.max_payload_bytes == 65536);
  CHECK(e.max_topic_length == 128);
  CHECK(e.max_read_count == 1000);
  CHECK(e.max_block == 60s);
  CHECK_FALSE(e.trim_acknowledged);
  CHECK(e.dedup_window == 2min);
}

TEST_CASE("an empty events section keeps the defaults") {
  auto r = load_config_text("events: {}\n", "e.yaml");
  INFO(dump(r));
  REQUIRE(r.ok());
  CHECK(r.cfg.events == baton::events::events_config{});
}

TEST_CASE("every field of the events section is read") {
  auto r = load_config_text("events:\n"
                            "  max_length: 5000\n"
                            "  max_age_ms: 3600000\n"
                            "  max_payload_bytes: 1024\n"
                            "  max_topic_length: 64\n"
                            "  max_read_count: 50\n"
                            "  max_block_ms: 2500\n"
                            "  trim_acknowledged: true\n"
                            "  dedup_window_ms: 5000\n",
                            "f.yaml");
  INFO(dump(r));
  REQUIRE(r.ok());
  const auto& e = r.cfg.events;
  CHECK(e.max_length == 5000);
  CHECK(e.max_age == 1h);
  CHECK(e.max_payload_bytes == 1024);
  CHECK(e.max_topic_length == 64);
  CHECK(e.max_read_count == 50);
  CHECK(e.max_block == 2500ms);
  CHECK(e.trim_acknowledged);
  CHECK(e.dedup_window == 5s);
  CHECK_FALSE(e == baton::events::events_config{});
}

TEST_CASE("trim_acknowledged false is read as false") {
  auto r = load_config_text("events:\n"
                            "  trim_acknowledged: false\n",
                            "t.yaml");
  INFO(dump(r));
  REQUIRE(r.ok());
  CHECK_FALSE(r.cfg.events.trim_acknowledged);
}

TEST_CASE("the lowest and the highest values of the events section are accepted") {
  auto lowest = load_config_text("events:\n"
                                 "  max_length: 1\n"
                                 "  max_age_ms: 1000\n"
                                 "  max_payload_bytes: 1\n"
                                 "  max_topic_length: 1\n"
                                 "  max_read_count: 1\n"
                                 "  max_block_ms: 1\n",
                                 "low.yaml");
  INFO(dump(lowest));
  REQUIRE(lowest.ok());
  CHECK(lowest.cfg.events.max_length == 1);
  CHECK(lowest.cfg.events.max_age == 1s);
  CHECK(lowest.cfg.events.max_payload_bytes == 1);
  CHECK(lowest.cfg.events.max_topic_length == 1);
  CHECK(lowest.cfg.events.max_read_count == 1);
  CHECK(lowest.cfg.events.max_block == 1ms);
  auto highest = load_config_text("events:\n"
                                  "  max_length: 4294967296\n"
                                  "  max_age_ms: 315360000000\n"
                                  "  max_payload_bytes: 536870912\n"
                                  "  max_topic_length: 4096\n"
                                  "  max_read_count: 100000\n"
                                  "  max_block_ms: 3600000\n",
                                  "high.yaml");
  INFO(dump(highest));
  REQUIRE(highest.ok());
  CHECK(highest.cfg.events.max_length == (std::size_t{1} << 32));
  CHECK(highest.cfg.events.max_age == 3650 * 24h); // ten years
  CHECK(highest.cfg.events.max_payload_bytes == (std::size_t{512} << 20));
  CHECK(highest.cfg.events.max_topic_length == 4096);
  CHECK(highest.cfg.events.max_read_count == 100000);
  CHECK(highest.cfg.events.max_block == 1h);
}

TEST_CASE("every events problem is reported at its line and column all at once") {
  auto r = load_config_text("events:\n"
                            "  max_age_ms: 999\n"
                            "  colour: red\n"
                            "  max_read_count: 0\n"
                            "  trim_acknowledged: maybe\n"
                            "  max_length: 10\n"
                            "  dedup_window_ms: 10\n",
                            "c.yaml");
  INFO(dump(r));
  CHECK_FALSE(r.ok());
  const char* expected[] = {
      "c.yaml:2:15: max_age_ms must be between 1000 and 315360000000, got 999",
      "c.yaml:3:3: unknown key 'colour' in events",
      "c.yaml:4:19: max_read_count must be between 1 and 100000, got 0",
      "c.yaml:5:22: trim_acknowledged must be true or false, got 'maybe'",
      "c.yaml:7:20: dedup_window_ms must be between 1000 and 604800000, got 10",
  };
  for (const char* text : expected) {
    INFO(text);
    CHECK(has_problem(r, text));
  }
  CHECK(r.problems.size() == std::size(expected)); // each once, nothing else
  // The values in error keep their defaults; the good one beside them is read.
  const baton::events::events_config defaults{};
  CHECK(r.cfg.events.max_age == defaults.max_age);
  CHECK(r.cfg.events.max_read_count == defaults.max_read_count);
  CHECK(r.cfg.events.trim_acknowledged == defaults.trim_acknowledged);
  CHECK(r.cfg.events.max_length == 10);
}

TEST_CASE("events values out of bounds or of the wrong kind are problems") {
  auto r = load_config_text("events:\n"
                            "  max_length: 0\n"
                            "  max_payload_bytes: big\n"
                            "  max_topic_length: 4097\n"
                            "  max_read_count: 100001\n"
                            "  max_block_ms: 0\n"
                            "  max_age_ms: 315360000001\n"
                            "  trim_acknowledged: [true]\n",
                            "b.yaml");
  INFO(dump(r));
  const char* expected[] = {
      "b.yaml:2:15: max_length must be between 1 and 4294967296, got 0",
      "b.yaml:3:22: max_payload_bytes must be an integer, got 'big'",
      "b.yaml:4:21: max_topic_length must be between 1 and 4096, got 4097",
      "b.yaml:5:19: max_read_count must be between 1 and 100000, got 100001",
      "b.yaml:6:17: max_block_ms must be between 1 and 3600000, got 0",
      "b.yaml:7:15: max_age_ms must be between 1000 and 315360000000, got 315360000001",
      "b.yaml:8:22: trim_acknowledged must be true or false, got 'a list'",
  };
  for (const char* text : expected) {
    INFO(text);
    CHECK(has_problem(r, text));
  }
  CHECK(r.problems.size() == std::size(expected));
  CHECK(r.cfg.events == baton::events::events_config{}); // nothing taken from them
}

TEST_CASE("an events section that is not a map is a problem") {
  auto as_list = load_config_text("events: [a]\n", "m.yaml");
  INFO(dump(as_list));
  CHECK(has_problem(as_list, "m.yaml:1:9: events must be a map"));
  CHECK(as_list.problems.size() == 1);
  CHECK(as_list.cfg.events == baton::events::events_config{});
  auto as_scalar = load_config_text("events: 5\n", "s.yaml");
  INFO(dump(as_scalar));
  CHECK(has_problem(as_scalar, "s.yaml:1:9: events must be a map"));
  CHECK(as_scalar.problems.size() == 1);
}
