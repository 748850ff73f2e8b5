// The scripts baton runs on Redis, by name, with their SHA1 so that calls use EVALSHA.
#pragma once

#include <string>
#include <string_view>
#include <unordered_map>

namespace baton::redis_link {

struct script {
  std::string name;
  std::string body;
  std::string sha1; ///< lower-case hex, as Redis reports it
  bool durable = false; ///< followed by WAIT when the link waits for replicas
};

class script_registry {
public:
  /// Loads every embedded script.
  script_registry();

  /// nullptr if there is no script of that name.
  const script* find(std::string_view name) const;
  std::size_t size() const { return scripts_.size(); }
  const std::unordered_map<std::string, script>& all() const { return scripts_; }

private:
  std::unordered_map<std::string, script> scripts_;
};

/// SHA1 of `text` in lower-case hex (OpenSSL).
std::string sha1_hex(std::string_view text);

} // namespace baton::redis_link
