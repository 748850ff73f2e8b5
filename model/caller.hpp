// Who is asking, as the families judge ownership: the kernel-verified uid of the connection
// (SO_PEERCRED), and whether the access rules make it an admin. Apps of one host share one
// daemon, so what one uid took (a lease, a claim, a session) is that uid's alone: another
// uid's RENEW, RELEASE, DONE or session verb is refused, whatever token it shows, and what
// another uid holds is described without its uid, pid, node or meta. Admins may override
// where an operator needs to (LEASE RELEASE ... FORCE, SESSION GET|LIST|CLOSE), and never
// receive another uid's secrets (resume tokens).
//
// uids are compared as numbers across the fleet: a session opened on one host and closed on
// another belongs to the same app only if the app runs under the same uid on both, which is
// how fleets provision service users (and what NFS asks as well).
#pragma once

#include <cstdint>
#include <string>

namespace baton {

struct caller {
  static constexpr std::int64_t unknown_uid = -1;

  std::int64_t uid = unknown_uid;
  bool admin = false;

  /// True when `owner_uid` is this caller's own. An unknown owner (a record written before
  /// records carried a uid) is anyone's, as it was then.
  bool owns(std::int64_t owner_uid) const { return owner_uid == unknown_uid || owner_uid == uid; }
  /// True when this caller may see or override what `owner_uid` holds (its own, or as admin).
  bool may_see(std::int64_t owner_uid) const { return admin || owns(owner_uid); }
};

/// The uid in a holder description "uid=1000 gid=1000 pid=42 ..." (what LEASE ACQUIRE stores as
/// its client), or caller::unknown_uid.
inline std::int64_t uid_in_description(const std::string& text) {
  if (text.compare(0, 4, "uid=") != 0) return caller::unknown_uid;
  std::int64_t uid = 0;
  std::size_t i = 4;
  for (; i < text.size() && text[i] >= '0' && text[i] <= '9' && i < 14; ++i)
    uid = uid * 10 + (text[i] - '0');
  if (i == 4 || (i < text.size() && text[i] != ' ')) return caller::unknown_uid;
  return uid;
}

} // namespace baton
