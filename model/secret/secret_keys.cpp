// Secret keys; see secret_keys.hpp.
#include "model/secret/secret_keys.hpp"

#include "model/lease/reserved_names.hpp"

namespace baton::secret {

secret_keys keys_for(const std::string& prefix, const std::string& name) {
  auto record = prefix + ":secret:{" + name + "}";
  return {record, record + ":acks", record + ":usage"};
}

std::string events_channel(const std::string& prefix) {
  return prefix + ":secret-events";
}

std::string audit_stream(const std::string& prefix) {
  return prefix + ":secret-audit";
}

std::string rotation_lease(const std::string& name) {
  return lease::with_prefix(lease::rotation_prefix, name);
}

std::string name_of_record(const std::string& prefix, const std::string& key) {
  auto head = prefix + ":secret:{";
  if (key.size() <= head.size() + 1 || key.compare(0, head.size(), head) != 0 || key.back() != '}')
    return {};
  return key.substr(head.size(), key.size() - head.size() - 1);
}

} // namespace baton::secret
