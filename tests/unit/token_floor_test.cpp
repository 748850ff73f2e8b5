// The fencing token floor: what a grant is lifted above (model/lease/token_floor.hpp) and how
// it is kept across restarts (services/lease/token_floor_file).
#include <catch2/catch.hpp>

#include <sys/stat.h>

#include <fstream>

#include "model/lease/token_floor.hpp"
#include "services/lease/token_floor_file.hpp"
#include "tests/support/test_redis.hpp"

using namespace baton::lease;
using std::chrono::system_clock;

TEST_CASE("a grant's floor is the highest token seen or the clock in microseconds") {
  auto now = system_clock::time_point(std::chrono::seconds(1'800'000'000));
  std::int64_t clock_us = 1'800'000'000'000'000;
  CHECK(grant_floor(0, now) == clock_us);
  CHECK(grant_floor(clock_us + 5, now) == clock_us + 5);
  CHECK(grant_floor(17, now) == clock_us);
  // Past 2^53 Lua's doubles round: such a floor is not used.
  CHECK(grant_floor(max_exact_token + 1, now) == clock_us);
  auto far_future = system_clock::time_point(std::chrono::microseconds(max_exact_token));
  CHECK(clock_floor(far_future) == 0);
  CHECK(clock_floor(system_clock::time_point{}) == 0);
}

TEST_CASE("the token floor file keeps the last value saved") {
  baton::test::temp_dir dir;
  token_floor_file file(token_floor_file::path_in(dir.path(), "n1"));
  CHECK(file.path() == dir.path() + "/token-floor.n1");
  std::string problem;
  CHECK(file.load(problem) == 0); // none yet: not a problem
  CHECK(problem.empty());
  REQUIRE(file.save(1'800'000'000'000'123, problem));
  CHECK(token_floor_file(file.path()).load(problem) == 1'800'000'000'000'123);
  REQUIRE(file.save(1'800'000'000'000'124, problem));
  CHECK(file.load(problem) == 1'800'000'000'000'124);
  CHECK(problem.empty());
  struct stat st {};
  REQUIRE(::stat(file.path().c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0600);
}

TEST_CASE("a token floor file that holds no number gives 0 and says why") {
  baton::test::temp_dir dir;
  token_floor_file file(dir.file("token-floor.n1"));
  std::ofstream(file.path()) << "garbage\n";
  std::string problem;
  CHECK(file.load(problem) == 0);
  CHECK(problem.find("holds no token floor") != std::string::npos);
  problem.clear();
  std::ofstream(file.path()) << "-5\n";
  CHECK(file.load(problem) == 0);
  CHECK_FALSE(problem.empty());
}

TEST_CASE("a token floor file that cannot be written says so, and no path keeps nothing") {
  std::string problem;
  token_floor_file nowhere("/nonexistent-dir/token-floor.n1");
  CHECK_FALSE(nowhere.save(5, problem));
  CHECK(problem.find("cannot write") != std::string::npos);
  token_floor_file none(token_floor_file::path_in("", "n1"));
  CHECK(none.path().empty());
  problem.clear();
  CHECK(none.save(5, problem));
  CHECK(none.load(problem) == 0);
  CHECK(problem.empty());
}
