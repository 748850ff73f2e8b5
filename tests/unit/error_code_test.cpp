// One error vocabulary: every code round-trips through its word, API.md's error table lists
// exactly the codes of protocol/error_code.hpp, and every error reply the daemon's sources
// write starts with one of them (a new code must be added to the vocabulary and documented).
#include <catch2/catch.hpp>

#include <cctype>
#include <filesystem>
#include <fstream>
#include <regex>
#include <set>
#include <sstream>

#include "metrics/request_metrics.hpp"
#include "protocol/error_code.hpp"

using namespace baton;
using protocol::error_code;

namespace {

std::string read_file(const std::filesystem::path& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

std::set<std::string> vocabulary() {
  std::set<std::string> words;
  for (auto code : protocol::all_error_codes)
    words.emplace(protocol::code_word(code));
  return words;
}

} // namespace

TEST_CASE("error codes round-trip through their words") {
  for (auto code : protocol::all_error_codes) {
    auto text = protocol::error_text(code, "why it failed");
    CHECK(protocol::parse_error_code(text) == code);
  }
  CHECK(protocol::parse_error_code("LOSTLY not a code") == std::nullopt);
  CHECK(protocol::error_text(error_code::busy, "") == "BUSY");
  CHECK(vocabulary().size() == protocol::all_error_codes.size());
}

TEST_CASE("metrics label requests by the code of their error") {
  CHECK(metrics::result_name(metrics::result_ok) == "ok");
  CHECK(metrics::result_name(metrics::result_of_error("ERR syntax error")) == "error");
  CHECK(metrics::result_name(metrics::result_of_error("LOST it lapsed")) == "lost");
  CHECK(metrics::result_name(metrics::result_of_error("UNAVAILABLE redis")) == "unavailable");
  CHECK(metrics::result_name(metrics::result_of_error("WHATEVER no code")) == "error");
}

TEST_CASE("API.md's error table lists exactly the vocabulary") {
  auto api = read_file(std::filesystem::path(BATON_SOURCE_DIR) / "protocol" / "API.md");
  auto start = api.find("## Errors");
  REQUIRE(start != std::string::npos);
  auto end = api.find("\n## ", start + 1);
  auto section = api.substr(start, end - start);
  std::set<std::string> documented;
  std::regex row(R"(\n\| `([A-Z]+)` \|)");
  for (std::sregex_iterator it(section.begin(), section.end(), row), last; it != last; ++it)
    documented.insert((*it)[1]);
  CHECK(documented == vocabulary());
}

TEST_CASE(
    "every error reply written literally in the sources starts with a code of the vocabulary") {
  auto words = vocabulary();
  // Error replies are written by reply_writer::error and client_connection::fail, as a text
  // ("NOPERM ...") or as a code and a sentence; services fail with protocol::fail(code, why).
  // Texts built at run time (a family's own fail lambdas, which add ERR) are not seen by this
  // scan.
  std::regex written(R"((\.error|->fail|\.fail)\((ticket, )?"([A-Za-z]+))");
  std::regex typed(R"((\.error|->fail|\.fail|\bfail)\((ticket, )?(protocol::)?error_code::(\w+))");
  std::size_t seen = 0, seen_typed = 0;
  for (auto folder : {"daemon", "services", "protocol", "actors", "model"})
    for (const auto& entry : std::filesystem::recursive_directory_iterator(
             std::filesystem::path(BATON_SOURCE_DIR) / folder)) {
      if (entry.path().extension() != ".cpp" && entry.path().extension() != ".hpp") continue;
      auto text = read_file(entry.path());
      for (std::sregex_iterator it(text.begin(), text.end(), written), last; it != last; ++it) {
        ++seen;
        INFO(entry.path().string() << ": \"" << (*it)[3] << "\"");
        CHECK(words.count((*it)[3]) == 1);
      }
      // A typed code compiles only if it is an enumerator; its word is its name in capitals.
      for (std::sregex_iterator it(text.begin(), text.end(), typed), last; it != last; ++it) {
        ++seen_typed;
        auto word = (*it)[4].str();
        for (auto& c : word)
          c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
        INFO(entry.path().string() << ": error_code::" << (*it)[4]);
        CHECK(words.count(word) == 1);
      }
    }
  CHECK(seen + seen_typed > 60); // the scan does find the daemon's errors
}
