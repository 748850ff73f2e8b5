// Who is on the other end of a local socket: uid, gid and pid from SO_PEERCRED, and the
// supplementary groups from SO_PEERGROUPS. The kernel vouches for these, so access rules and
// audit records can rely on them.
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

namespace baton {

struct peer_credentials {
  pid_t pid = 0;
  uid_t uid = static_cast<uid_t>(-1);
  gid_t gid = static_cast<gid_t>(-1);
  std::vector<gid_t> groups; ///< supplementary groups, primary included
  /// False when the kernel would not say (SO_PEERGROUPS failed): the caller may be in any
  /// group, so no group grants it anything and only connection commands are open to it.
  bool groups_known = true;

  bool in_group(gid_t g) const;
  std::string describe() const; ///< "uid=1000 gid=1000 pid=42"
};

/// Reads the credentials of a connected Unix socket; uid stays -1 if the kernel refuses.
peer_credentials read_peer_credentials(int fd);

} // namespace baton
