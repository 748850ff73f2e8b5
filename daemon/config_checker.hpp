// Reading typed values out of YAML with every problem collected at file:line:column, shared
// by the config's readers (config_loader.cpp, and one file per larger section such as
// config_secrets.cpp). Also resolves user and group names the way access rules need them.
#pragma once

#include <sys/types.h>

#include <yaml-cpp/yaml.h>

#include <chrono>
#include <cmath>
#include <limits>
#include <set>
#include <string>
#include <vector>

namespace baton {

using std::chrono::milliseconds;

/// Collects problems with positions and reads typed values out of YAML maps.
class checker {
public:
  checker(std::string file, std::vector<std::string>& problems)
      : file_(std::move(file)), problems_(problems) {}

  void problem(const YAML::Mark& mark, const std::string& message) {
    if (mark.is_null())
      problems_.push_back(file_ + ": " + message);
    else
      problems_.push_back(file_ + ":" + std::to_string(mark.line + 1) + ":" +
                          std::to_string(mark.column + 1) + ": " + message);
  }

  /// Problems found so far (a reader compares before and after to see whether its part was
  /// clean).
  std::size_t count() const { return problems_.size(); }

  /// Checks that `node` is a map whose keys are all in `known`; returns false if not a map.
  bool expect_map(const YAML::Node& node, const std::string& where,
                  const std::set<std::string>& known) {
    if (!node.IsMap()) {
      problem(node.Mark(), where + " must be a map");
      return false;
    }
    for (const auto& kv : node) {
      auto key = kv.first.as<std::string>("");
      if (known.count(key) == 0) {
        std::string list;
        for (const auto& k : known)
          list += (list.empty() ? "" : ", ") + k;
        problem(kv.first.Mark(),
                "unknown key '" + key + "' in " + where + " (known: " + list + ")");
      }
    }
    return true;
  }

  void read_string(const YAML::Node& map, const char* key, std::string& out,
                   bool non_empty = false) {
    auto node = map[key];
    if (!node) return;
    if (!node.IsScalar()) {
      problem(node.Mark(), std::string(key) + " must be a string");
      return;
    }
    auto value = node.as<std::string>();
    if (non_empty && value.empty()) {
      problem(node.Mark(), std::string(key) + " must not be empty");
      return;
    }
    out = value;
  }

  bool read_int(const YAML::Node& map, const char* key, long long min, long long max,
                long long& out) {
    auto node = map[key];
    if (!node) return false;
    long long value = 0;
    if (!node.IsScalar() || !YAML::convert<long long>::decode(node, value)) {
      problem(node.Mark(), std::string(key) + " must be an integer, got '" + text_of(node) + "'");
      return false;
    }
    if (value < min || value > max) {
      problem(node.Mark(), std::string(key) + " must be between " + std::to_string(min) + " and " +
                               std::to_string(max) + ", got " + std::to_string(value));
      return false;
    }
    out = value;
    return true;
  }

  void read_size(const YAML::Node& map, const char* key, long long min, long long max,
                 std::size_t& out) {
    long long value = 0;
    if (read_int(map, key, min, max, value)) out = static_cast<std::size_t>(value);
  }

  void read_ms(const YAML::Node& map, const char* key, long long min, long long max,
               milliseconds& out) {
    long long value = 0;
    if (read_int(map, key, min, max, value)) out = milliseconds(value);
  }

  /// A finite number (YAML would also take .inf and .nan), within [min, max].
  void read_number(const YAML::Node& map, const char* key, double& out,
                   double min = -std::numeric_limits<double>::max(),
                   double max = std::numeric_limits<double>::max()) {
    auto node = map[key];
    if (!node) return;
    double value = 0;
    if (!node.IsScalar() || !YAML::convert<double>::decode(node, value) || !std::isfinite(value)) {
      problem(node.Mark(), std::string(key) + " must be a number, got '" + text_of(node) + "'");
      return;
    }
    if (value < min || value > max) {
      problem(node.Mark(), std::string(key) + " must be between " + std::to_string(min) + " and " +
                               std::to_string(max) + ", got '" + text_of(node) + "'");
      return;
    }
    out = value;
  }

  void read_bool(const YAML::Node& map, const char* key, bool& out) {
    auto node = map[key];
    if (!node) return;
    bool value = false;
    if (!node.IsScalar() || !YAML::convert<bool>::decode(node, value)) {
      problem(node.Mark(),
              std::string(key) + " must be true or false, got '" + text_of(node) + "'");
      return;
    }
    out = value;
  }

  std::vector<std::string> read_string_list(const YAML::Node& map, const char* key) {
    std::vector<std::string> out;
    auto node = map[key];
    if (!node) return out;
    if (!node.IsSequence()) {
      problem(node.Mark(), std::string(key) + " must be a list");
      return out;
    }
    for (const auto& item : node) {
      if (!item.IsScalar() || item.as<std::string>().empty())
        problem(item.Mark(), std::string(key) + " entries must be non-empty strings");
      else
        out.push_back(item.as<std::string>());
    }
    return out;
  }

  static std::string text_of(const YAML::Node& node) {
    if (node.IsScalar()) return node.as<std::string>();
    return node.IsMap() ? "a map" : node.IsSequence() ? "a list" : "null";
  }

private:
  std::string file_;
  std::vector<std::string>& problems_;
};

/// Reads a rule's callers: `users` (names), `uids` (numbers) and `groups` (names or numbers),
/// resolved on this host; each unknown one is a problem at its position.
void read_callers(checker& c, const YAML::Node& rule, std::vector<uid_t>& uids,
                  std::vector<gid_t>& gids);

/// A name of the config's own (a rate policy, a state or cache namespace): 1 to 64 letters,
/// digits, '-', '_' or '.'.
bool is_plain_name(const std::string& name);

/// A group by name or number; false if the host has no such group.
bool resolve_group(const std::string& name, gid_t& out);
/// A user by name; false if the host has no such user.
bool resolve_user(const std::string& name, uid_t& out);

} // namespace baton
