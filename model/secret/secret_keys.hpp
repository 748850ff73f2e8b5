// The Redis keys and channels of secrets. One secret's keys share the hash tag {name}, so they
// land in one Redis Cluster slot and one script may touch them all.
#pragma once

#include <string>

namespace baton::secret {

struct secret_keys {
  std::string record; ///< "<prefix>:secret:{<name>}": versions, states, sealed values
  std::string acks;   ///< "<prefix>:secret:{<name>}:acks": node -> "version ack_ms"
  std::string usage;  ///< "<prefix>:secret:{<name>}:usage": version -> uses, fleet-wide
};

secret_keys keys_for(const std::string& prefix, const std::string& name);

/// Where promotions and retirements are announced: "changed <name> <epoch> <incarnation>"
/// (model/secret/secret_identity.hpp parses it).
std::string events_channel(const std::string& prefix);
/// The capped audit stream.
std::string audit_stream(const std::string& prefix);
/// The lease a rotation of `name` runs under (visible to LEASE INFO and LEASE WATCH).
std::string rotation_lease(const std::string& name);

/// The secret name of a record key found by SCAN, or empty if it is not one.
std::string name_of_record(const std::string& prefix, const std::string& key);

} // namespace baton::secret
