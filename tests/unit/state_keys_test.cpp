// STATE's key layout without a server: an entry's Redis key and back (any key, braces and glob
// characters included), only a namespace's own entries recognised, SCAN patterns that match
// their prefix literally, and a request's keys grouped by slot (one group on a single Redis,
// one per slot on a Cluster, request order kept in each).
#include <catch2/catch.hpp>

#include <algorithm>
#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "redis/cluster_map.hpp"
#include "services/state/state_keys.hpp"

using namespace baton::state;
using baton::redis_link::key_slot;

namespace {

state_namespace make_namespace(const std::string& name, const std::string& key_prefix) {
  state_namespace ns;
  ns.name = name;
  ns.key_prefix = key_prefix;
  return ns;
}

const state_namespace carts = make_namespace("carts", "baton:state:carts:");

} // namespace

TEST_CASE("an entry's key is the prefix and the app's key in braces") {
  CHECK(entry_key(carts, "k") == "baton:state:carts:{k}");
  CHECK(entry_key(carts, "") == "baton:state:carts:{}");
  CHECK(entry_key(carts, "a}b") == "baton:state:carts:{a}b}");
}

TEST_CASE("app_key gives back the key of every entry_key") {
  std::vector<std::string> keys = {"k", "user:42", "a b", " ", "*", "?", "[x]", "\\", "{", "}"};
  for (const auto* k : {"{}", "}{", "{k}", "a}b", "a{b", "}}}", "{{{", "", "ü"})
    keys.push_back(k);
  keys.push_back(std::string("nul\0byte", 8));
  keys.push_back(std::string(600, 'x'));
  for (const auto& k : keys) {
    INFO("key '" << k << "'");
    auto back = app_key(carts, entry_key(carts, k));
    REQUIRE(back);
    CHECK(*back == k);
  }
}

TEST_CASE("app_key rejects keys that are not the namespace's entries") {
  auto other = make_namespace("orders", "baton:state:orders:");
  auto longer = make_namespace("carts2", "baton:state:carts:x:");
  CHECK_FALSE(app_key(carts, entry_key(other, "k")));
  CHECK_FALSE(app_key(carts, entry_key(longer, "k"))); // a prefix that extends carts'
  CHECK_FALSE(app_key(longer, entry_key(carts, "k")));
  CHECK_FALSE(app_key(carts, "baton:state:carts:k"));  // no braces
  CHECK_FALSE(app_key(carts, "baton:state:carts:{k")); // no closing brace
  CHECK_FALSE(app_key(carts, "baton:state:carts:k}")); // no opening brace
  CHECK_FALSE(app_key(carts, "baton:state:carts:{"));  // too short for both
  CHECK_FALSE(app_key(carts, "baton:state:carts:}"));
  CHECK_FALSE(app_key(carts, "baton:state:carts:"));
  CHECK_FALSE(app_key(carts, "baton:state:carts"));
  CHECK_FALSE(app_key(carts, "baton:state:cart:{k}"));
  CHECK_FALSE(app_key(carts, "BATON:state:carts:{k}"));
  CHECK_FALSE(app_key(carts, "{k}"));
  CHECK_FALSE(app_key(carts, ""));
  CHECK_FALSE(app_key(carts, "baton:lease:{k}"));
  // Its own entries, and only those, of a namespace whose prefix another one extends.
  REQUIRE(app_key(longer, entry_key(longer, "k")));
  CHECK(*app_key(longer, entry_key(longer, "k")) == "k");
}

TEST_CASE("glob_escape escapes star, question mark, brackets and backslash, nothing else") {
  CHECK(glob_escape("") == "");
  CHECK(glob_escape("*") == "\\*");
  CHECK(glob_escape("?") == "\\?");
  CHECK(glob_escape("[") == "\\[");
  CHECK(glob_escape("]") == "\\]");
  CHECK(glob_escape("\\") == "\\\\");
  CHECK(glob_escape("a*b?c[d]e\\f") == "a\\*b\\?c\\[d\\]e\\\\f");
  CHECK(glob_escape("**") == "\\*\\*");
  const std::string plain = "baton:state:carts:{} ^!-_.+()$|/'\"%#@~`,;=<>&abcXYZ019";
  CHECK(glob_escape(plain) == plain);
}

TEST_CASE("an entry pattern matches the entries whose key starts with the prefix, literally") {
  CHECK(entry_pattern(carts, "") == "baton:state:carts:{*");
  CHECK(entry_pattern(carts, "user:") == "baton:state:carts:{user:*");
  CHECK(entry_pattern(carts, "us*er?[1]\\") == "baton:state:carts:{us\\*er\\?\\[1\\]\\\\*");
  // Glob characters in the namespace's own prefix are escaped too.
  auto odd = make_namespace("odd", "app?:x[1]*:");
  CHECK(entry_pattern(odd, "p") == "app\\?:x\\[1\\]\\*:{p*");
}

TEST_CASE("group_by_slot on a single Redis: one group, every position in order") {
  CHECK(group_by_slot({}, false).empty());
  CHECK(group_by_slot({}, true).empty());
  std::vector<std::string> keys;
  for (const auto* k : {"a", "b", "c", "a", "zz", "k100"})
    keys.push_back(entry_key(carts, k));
  auto groups = group_by_slot(keys, false);
  REQUIRE(groups.size() == 1);
  CHECK(groups[0] == std::vector<std::size_t>{0, 1, 2, 3, 4, 5});
  auto one = group_by_slot({entry_key(carts, "only")}, false);
  REQUIRE(one.size() == 1);
  CHECK(one[0] == std::vector<std::size_t>{0});
}

TEST_CASE("an entry's slot is its app key's: the key is the hash tag") {
  auto other = make_namespace("orders", "baton:state:orders:");
  for (const auto* k : {"k", "user:42", "a b", "*"}) {
    INFO(k);
    CHECK(key_slot(entry_key(carts, k)) == key_slot(k));
    CHECK(key_slot(entry_key(carts, k)) == key_slot(entry_key(other, k)));
  }
  // Only up to the first '}': "a}b" shares a slot with "a".
  CHECK(key_slot(entry_key(carts, "a}b")) == key_slot("a"));
}

TEST_CASE("group_by_slot on a Cluster: one group per slot, request order in each") {
  std::vector<std::string> keys;
  for (int i = 0; i < 200; ++i)
    keys.push_back(entry_key(carts, "key-" + std::to_string(i)));
  keys.push_back(keys[3]); // the same key twice goes with its first position
  auto groups = group_by_slot(keys, true);
  std::set<std::uint16_t> distinct_slots;
  for (const auto& k : keys)
    distinct_slots.insert(key_slot(k));
  CHECK(groups.size() == distinct_slots.size());
  std::vector<int> seen(keys.size(), 0);
  std::set<std::uint16_t> group_slots;
  for (const auto& g : groups) {
    REQUIRE_FALSE(g.empty());
    CHECK(std::is_sorted(g.begin(), g.end()));
    auto slot = key_slot(keys[g[0]]);
    CHECK(group_slots.insert(slot).second); // no slot in two groups
    for (auto i : g) {
      REQUIRE(i < keys.size());
      ++seen[i];
      CHECK(key_slot(keys[i]) == slot);
    }
  }
  // Every position exactly once.
  CHECK(std::all_of(seen.begin(), seen.end(), [](int n) { return n == 1; }));
  // Groups come in the order of their first key.
  CHECK(groups[0][0] == 0);
  for (std::size_t g = 1; g < groups.size(); ++g)
    CHECK(groups[g][0] > groups[g - 1][0]);
  // The repeated key sits in its first position's group.
  for (const auto& g : groups)
    if (std::find(g.begin(), g.end(), std::size_t{3}) != g.end())
      CHECK(std::find(g.begin(), g.end(), keys.size() - 1) != g.end());
}

TEST_CASE("group_by_slot on a Cluster: distinct keys of one slot share a call") {
  // Two distinct app keys whose entries hash to the same slot, and one of another slot.
  std::map<std::uint16_t, std::string> first_of_slot;
  std::string x, y;
  for (int i = 0; i <= 100000 && y.empty(); ++i) {
    auto k = "k" + std::to_string(i);
    auto [it, fresh] = first_of_slot.emplace(key_slot(entry_key(carts, k)), k);
    if (!fresh) {
      x = it->second;
      y = k;
    }
  }
  REQUIRE_FALSE(y.empty());
  REQUIRE(x != y);
  auto slot = key_slot(entry_key(carts, x));
  REQUIRE(key_slot(entry_key(carts, y)) == slot);
  std::string z;
  for (const auto& [s, k] : first_of_slot)
    if (s != slot) {
      z = k;
      break;
    }
  REQUIRE_FALSE(z.empty());

  auto groups =
      group_by_slot({entry_key(carts, y), entry_key(carts, z), entry_key(carts, x)}, true);
  REQUIRE(groups.size() == 2);
  CHECK(groups[0] == std::vector<std::size_t>{0, 2});
  CHECK(groups[1] == std::vector<std::size_t>{1});
  // On a single Redis the same keys are one call.
  auto single =
      group_by_slot({entry_key(carts, y), entry_key(carts, z), entry_key(carts, x)}, false);
  REQUIRE(single.size() == 1);
  CHECK(single[0] == std::vector<std::size_t>{0, 1, 2});
}
