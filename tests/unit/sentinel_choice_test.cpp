// How the Sentinel locator decides: which sentinel's answer names the master, which events are
// about our master, and reading SENTINEL MASTER's reply.
#include <catch2/catch.hpp>

#include "redis/sentinel_locator.hpp"

using namespace baton::redis_link;

namespace {

std::optional<master_view> view(const std::string& host, unsigned short port, std::int64_t epoch) {
  master_view v;
  v.host = host;
  v.port = port;
  v.config_epoch = epoch;
  return v;
}

} // namespace

TEST_CASE("the highest config epoch names the master, whoever answered first") {
  std::vector<std::optional<master_view>> views{view("old", 1, 3), view("new", 2, 4), std::nullopt};
  const auto* chosen = choose_master(views, std::nullopt, 3);
  REQUIRE(chosen != nullptr);
  CHECK(chosen->host == "new");
}

TEST_CASE("a lagging sentinel never sends the link back to an older master") {
  auto current = view("new", 2, 4);
  std::vector<std::optional<master_view>> only_the_laggard{view("old", 1, 3), std::nullopt,
                                                           std::nullopt};
  CHECK(choose_master(only_the_laggard, current, 3) == nullptr);
  // On equal epochs the master in use stays.
  std::vector<std::optional<master_view>> tie{view("other", 9, 4), view("new", 2, 4)};
  REQUIRE(choose_master(tie, current, 3) != nullptr);
  CHECK(choose_master(tie, current, 3)->host == "new");
}

TEST_CASE("a redeployed Sentinel (epochs started again) is believed only by an agreeing majority") {
  auto current = view("a", 1, 7);
  std::vector<std::optional<master_view>> agreeing{view("b", 2, 0), view("b", 2, 0), std::nullopt};
  REQUIRE(choose_master(agreeing, current, 3) != nullptr);
  CHECK(choose_master(agreeing, current, 3)->host == "b");
  std::vector<std::optional<master_view>> one{view("b", 2, 0), std::nullopt, std::nullopt};
  CHECK(choose_master(one, current, 3) == nullptr);
  std::vector<std::optional<master_view>> split{view("b", 2, 0), view("c", 3, 0), std::nullopt};
  CHECK(choose_master(split, current, 3) == nullptr);
}

TEST_CASE("events are matched to the master they name") {
  CHECK(event_is_about("master baton 127.0.0.1 6379", "baton"));
  CHECK_FALSE(event_is_about("master other 127.0.0.1 6379", "baton"));
  CHECK(event_is_about("slave 127.0.0.1:6380 127.0.0.1 6380 @ baton 127.0.0.1 6379", "baton"));
  CHECK_FALSE(event_is_about("slave 127.0.0.1:6380 127.0.0.1 6380 @ other 1 2", "baton"));
  CHECK_FALSE(event_is_about("", "baton"));
}

TEST_CASE("SENTINEL MASTER's reply is read, and a broken one is not an answer") {
  redis_reply r;
  r.kind = reply_kind::array;
  for (const char* s : {"name", "baton", "ip", "10.0.0.5", "port", "6380", "flags", "master",
                        "config-epoch", "12"}) {
    redis_reply e;
    e.kind = reply_kind::string;
    e.str = s;
    r.elements.push_back(e);
  }
  auto v = parse_master_view(r);
  REQUIRE(v);
  CHECK(v->host == "10.0.0.5");
  CHECK(v->port == 6380);
  CHECK(v->config_epoch == 12);
  r.elements[5].str = "99999"; // port out of range
  CHECK_FALSE(parse_master_view(r));
  r.elements[5].str = "x";
  CHECK_FALSE(parse_master_view(r));
  redis_reply error;
  error.kind = reply_kind::error;
  error.str = "ERR No such master with that name";
  CHECK_FALSE(parse_master_view(error));
}
