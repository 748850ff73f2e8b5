// Lease names and keys; see lease_keys.hpp.
#include "model/lease/lease_keys.hpp"

namespace baton::lease {

std::string check_name(std::string_view name, std::size_t max_length) {
  if (name.empty()) return "lease name must not be empty";
  if (name.size() > max_length)
    return "lease name is longer than " + std::to_string(max_length) + " bytes";
  for (char c : name) {
    auto u = static_cast<unsigned char>(c);
    if (u <= ' ' || u == 0x7f || c == '{' || c == '}')
      return "lease name must not contain spaces, control characters or braces";
  }
  return {};
}

lease_keys keys_for(const std::string& prefix, const std::string& name) {
  std::string lease = prefix + ":lease:{" + name + "}";
  return {lease, lease + ":fence"};
}

std::string abandoned_key(const std::string& prefix, const std::string& name,
                          const std::string& owner, const std::string& request_id) {
  return prefix + ":lease:{" + name + "}:abandoned:" + owner + ":" + request_id;
}

std::string events_channel(const std::string& prefix) {
  return prefix + ":lease-events";
}

std::string watch_channel(const std::string& prefix, const std::string& name) {
  return prefix + ":lease-watch:{" + name + "}";
}

} // namespace baton::lease
