// Peer credentials of Unix sockets; see peer_credentials.hpp.
#include "daemon/peer_credentials.hpp"

#include <sys/socket.h>

#include <algorithm>
#include <cerrno>

namespace baton {

bool peer_credentials::in_group(gid_t g) const {
  if (!groups_known) return false;
  return gid == g || std::find(groups.begin(), groups.end(), g) != groups.end();
}

std::string peer_credentials::describe() const {
  return "uid=" + std::to_string(uid) + " gid=" + std::to_string(gid) +
         " pid=" + std::to_string(pid);
}

peer_credentials read_peer_credentials(int fd) {
  peer_credentials result;
  struct ucred cred {};
  socklen_t length = sizeof(cred);
  if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &length) == 0) {
    result.pid = cred.pid;
    result.uid = cred.uid;
    result.gid = cred.gid;
  } else {
    result.groups_known = false; // uid and gid stay -1: nobody's
    return result;
  }
#ifdef SO_PEERGROUPS
  std::vector<gid_t> groups(64);
  socklen_t bytes = static_cast<socklen_t>(groups.size() * sizeof(gid_t));
  int rc = getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, groups.data(), &bytes);
  if (rc != 0 && errno == ERANGE) {
    groups.resize(bytes / sizeof(gid_t) + 1);
    bytes = static_cast<socklen_t>(groups.size() * sizeof(gid_t));
    rc = getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, groups.data(), &bytes);
  }
  if (rc != 0) {
    // Failing open here would judge the caller by its primary group alone, or worse: closed.
    result.groups_known = false;
    bytes = 0;
  }
  groups.resize(bytes / sizeof(gid_t));
  result.groups = std::move(groups);
#endif
  return result;
}

} // namespace baton
