// Real Unix users for tests of what one app may do to another's state: system users the test
// creates (the tests run as root), in a shared group that may open the daemon's socket, and
// connections opened as them. The kernel records a Unix socket's peer credentials at connect()
// (the effective uid and gid, and the supplementary groups), so a connection opened while the
// test process wears another user's ids is that user's for its whole life, as an app's is.
#pragma once

#include <sys/types.h>

#include <memory>
#include <string>

#include "protocol/resp_client.hpp"

namespace baton::test {

struct test_user {
  std::string name;
  uid_t uid = 0;
  gid_t gid = 0;
};

/// The group, created unless it exists; its gid.
gid_t ensure_group(const std::string& name);
/// A system user without a home or a login shell, created unless it exists; `group`, if
/// given, is added to its supplementary groups.
test_user ensure_user(const std::string& name, const std::string& group = "");

/// A connection to `socket` whose peer is `user` (with `extra_gid` as a supplementary group,
/// if not -1): the test takes on the user's effective ids for the connect() only.
std::unique_ptr<protocol::resp_client> connect_as(const test_user& user, const std::string& socket,
                                                  gid_t extra_gid = static_cast<gid_t>(-1));

} // namespace baton::test
