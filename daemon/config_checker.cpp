// User and group lookups for access rules, and the config's own names; see config_checker.hpp.
#include "daemon/config_checker.hpp"

#include <grp.h>
#include <pwd.h>

#include <cctype>

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

bool is_plain_name(const std::string& name) {
  if (name.empty() || name.size() > 64) return false;
  for (char ch : name)
    if (!std::isalnum(static_cast<unsigned char>(ch)) && ch != '-' && ch != '_' && ch != '.')
      return false;
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

void read_callers(checker& c, const YAML::Node& rule, std::vector<uid_t>& uids,
                  std::vector<gid_t>& gids) {
  auto users = c.read_string_list(rule, "users");
  for (std::size_t i = 0; i < users.size(); ++i) {
    uid_t uid = 0;
    if (resolve_user(users[i], uid))
      uids.push_back(uid);
    else
      c.problem(rule["users"][i].Mark(), "user '" + users[i] + "' does not exist on this host");
  }
  if (auto numbers = rule["uids"]) {
    if (!numbers.IsSequence()) {
      c.problem(numbers.Mark(), "uids must be a list of numbers");
    } else {
      for (const auto& u : numbers) {
        long long value = 0;
        if (!u.IsScalar() || !YAML::convert<long long>::decode(u, value) || value < 0)
          c.problem(u.Mark(), "uids entries must be non-negative integers");
        else
          uids.push_back(static_cast<uid_t>(value));
      }
    }
  }
  auto groups = c.read_string_list(rule, "groups");
  for (std::size_t i = 0; i < groups.size(); ++i) {
    gid_t gid = 0;
    if (resolve_group(groups[i], gid))
      gids.push_back(gid);
    else
      c.problem(rule["groups"][i].Mark(), "group '" + groups[i] + "' does not exist on this host");
  }
}

} // namespace baton
