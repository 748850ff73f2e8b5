// Reading the fleet from lua/node_list.lua's reply (model/membership/node_list.hpp).
#include <catch2/catch.hpp>

#include "model/membership/node_list.hpp"

using namespace baton;
using redis_link::redis_reply;
using redis_link::reply_kind;

namespace {

redis_reply text(const std::string& s) {
  redis_reply r;
  r.kind = reply_kind::string;
  r.str = s;
  return r;
}

redis_reply number(std::int64_t n) {
  redis_reply r;
  r.kind = reply_kind::integer;
  r.integer = n;
  return r;
}

redis_reply node_list(const std::vector<std::pair<std::string, std::string>>& records) {
  redis_reply r;
  r.kind = reply_kind::array;
  r.elements.push_back(number(1733050000000));
  for (const auto& [id, json] : records) {
    r.elements.push_back(text(id));
    r.elements.push_back(number(120));
    r.elements.push_back(text(json));
  }
  return r;
}

} // namespace

TEST_CASE("a node list is read into records sorted by id") {
  std::vector<membership::node_record> nodes;
  std::string why;
  REQUIRE(membership::parse_node_list(
      node_list({{"n2", R"({"address":"10.0.0.2","version":"0.1.0","state":"active",)"
                        R"("run_id":"R2","sessions":7,"started_ms":1733000000000})"},
                 {"n1", R"({"address":"10.0.0.1","state":"draining"})"}}),
      nodes, why));
  REQUIRE(nodes.size() == 2);
  CHECK(nodes[0].id == "n1");
  CHECK(nodes[0].state == "draining");
  CHECK(nodes[1].address == "10.0.0.2");
  CHECK(nodes[1].sessions == 7);
  CHECK(nodes[1].started_ms == 1733000000000);
  CHECK(nodes[1].heartbeat_age_ms == 120);
}

// Found by fuzz/script_replies (its input is in the corpus): a field of another type threw
// out of json::value() and would have ended the daemon.
TEST_CASE("a node record with fields of the wrong type is read with defaults, never thrown") {
  std::vector<membership::node_record> nodes;
  std::string why;
  REQUIRE(membership::parse_node_list(
      node_list({{"n1", R"({"address":1,"version":9999999999,"state":["x"],"run_id":null,)"
                        R"("sessions":"many","started_ms":1e300})"},
                 {"n2", R"({"sessions":18446744073709551615,"started_ms":-2.5})"},
                 {"n3", "not json"}}),
      nodes, why));
  REQUIRE(nodes.size() == 3);
  CHECK(nodes[0].address.empty());
  CHECK(nodes[0].version.empty());
  CHECK(nodes[0].state.empty());
  CHECK(nodes[0].sessions == 0);
  CHECK(nodes[0].started_ms == 0);
  CHECK(nodes[1].sessions == INT64_MAX);
  CHECK(nodes[1].started_ms == -2);
  CHECK(nodes[2].id == "n3");
}
