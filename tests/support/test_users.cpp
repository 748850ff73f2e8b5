// Test users; see test_users.hpp.
#include "tests/support/test_users.hpp"

#include <grp.h>
#include <pwd.h>
#include <unistd.h>

#include <stdexcept>
#include <vector>

#include "tests/support/test_redis.hpp"

namespace baton::test {

namespace {

// useradd, usermod and groupadd lock /etc/passwd and /etc/group, and fail rather than wait when
// another holds the lock: tests that run at once (ctest -j) take turns through one file lock.
void run_locked(const std::string& command) {
  run_command("flock /tmp/baton-test-users.lock " + command);
}

} // namespace

gid_t ensure_group(const std::string& name) {
  if (!getgrnam(name.c_str())) run_locked("groupadd --system " + name);
  const auto* gr = getgrnam(name.c_str());
  if (!gr) throw std::runtime_error("cannot create group " + name + " (the tests run as root)");
  return gr->gr_gid;
}

test_user ensure_user(const std::string& name, const std::string& group) {
  if (!getpwnam(name.c_str()))
    run_locked("useradd --system --no-create-home --shell /usr/sbin/nologin " + name);
  if (!group.empty()) {
    ensure_group(group);
    run_locked("usermod -a -G " + group + " " + name);
  }
  const auto* pw = getpwnam(name.c_str());
  if (!pw) throw std::runtime_error("cannot create user " + name + " (the tests run as root)");
  return {name, pw->pw_uid, pw->pw_gid};
}

namespace {

// Restores the test's own ids however the connect ends.
class worn_ids {
public:
  worn_ids(const test_user& user, gid_t extra_gid) {
    int count = getgroups(0, nullptr);
    saved_groups_.resize(static_cast<std::size_t>(count > 0 ? count : 0));
    if (count > 0) getgroups(count, saved_groups_.data());
    std::vector<gid_t> groups = {user.gid};
    if (extra_gid != static_cast<gid_t>(-1)) groups.push_back(extra_gid);
    if (setgroups(groups.size(), groups.data()) != 0 || setegid(user.gid) != 0 ||
        seteuid(user.uid) != 0)
      throw std::runtime_error("cannot take on the ids of " + user.name);
  }
  ~worn_ids() {
    // Back to root first: only root may set the rest.
    if (seteuid(0) != 0 || setegid(0) != 0 ||
        setgroups(saved_groups_.size(), saved_groups_.data()) != 0)
      std::terminate(); // a test process left wearing another uid must not go on
  }
  worn_ids(const worn_ids&) = delete;
  worn_ids& operator=(const worn_ids&) = delete;

private:
  std::vector<gid_t> saved_groups_;
};

} // namespace

std::unique_ptr<protocol::resp_client> connect_as(const test_user& user, const std::string& socket,
                                                  gid_t extra_gid) {
  worn_ids as(user, extra_gid);
  return std::make_unique<protocol::resp_client>(socket);
}

} // namespace baton::test
