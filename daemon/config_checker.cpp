// User and group lookups for access rules; see config_checker.hpp.
#include "daemon/config_checker.hpp"

#include <grp.h>
#include <pwd.h>

namespace baton {

bool resolve_group(const std::string& name, gid_t& out) {
  if (!name.empty() && name.find_first_not_of("0123456789") == std::string::npos) {
    out = static_cast<gid_t>(std::stoul(name));
    return true;
  }
  struct group grp {};
  struct group* found = nullptr;
  std::vector<char> buffer(16384);
  if (getgrnam_r(name.c_str(), &grp, buffer.data(), buffer.size(), &found) != 0 || !found)
    return false;
  out = found->gr_gid;
  return true;
}

bool resolve_user(const std::string& name, uid_t& out) {
  struct passwd pwd {};
  struct passwd* found = nullptr;
  std::vector<char> buffer(16384);
  if (getpwnam_r(name.c_str(), &pwd, buffer.data(), buffer.size(), &found) != 0 || !found)
    return false;
  out = found->pw_uid;
  return true;
}

} // namespace baton
