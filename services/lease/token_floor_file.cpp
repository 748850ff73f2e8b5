// See token_floor_file.hpp.
#include "services/lease/token_floor_file.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

namespace baton::lease {

namespace {

std::string errno_text(const std::string& what, const std::string& path) {
  return what + " " + path + ": " + std::strerror(errno);
}

bool write_all(int fd, const std::string& text) {
  std::size_t done = 0;
  while (done < text.size()) {
    auto n = ::write(fd, text.data() + done, text.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    done += static_cast<std::size_t>(n);
  }
  return true;
}

} // namespace

std::string token_floor_file::path_in(const std::string& dir, const std::string& node_id) {
  if (dir.empty()) return {};
  return dir + (dir.back() == '/' ? "" : "/") + "token-floor." + node_id;
}

std::int64_t token_floor_file::load(std::string& problem) const {
  if (path_.empty()) return 0;
  std::ifstream in(path_);
  if (!in) {
    if (errno != ENOENT) problem = errno_text("cannot read", path_);
    return 0;
  }
  std::string text;
  std::getline(in, text);
  std::int64_t value = 0;
  std::istringstream parse(text);
  if (!(parse >> value) || value < 0) {
    problem = path_ + " holds no token floor ('" + text.substr(0, 40) + "')";
    return 0;
  }
  return value;
}

bool token_floor_file::save(std::int64_t value, std::string& problem, bool durable) const {
  if (path_.empty()) return true;
  auto temporary = path_ + ".new";
  int fd = ::open(temporary.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd < 0) {
    problem = errno_text("cannot write", temporary);
    return false;
  }
  bool ok = write_all(fd, std::to_string(value) + "\n") && (!durable || ::fsync(fd) == 0);
  if (!ok) problem = errno_text("cannot write", temporary);
  ::close(fd);
  if (ok && ::rename(temporary.c_str(), path_.c_str()) != 0) {
    problem = errno_text("cannot replace", path_);
    ok = false;
  }
  if (!ok) {
    ::unlink(temporary.c_str());
    return false;
  }
  if (!durable) return true;
  // The rename is durable once the directory is.
  auto slash = path_.rfind('/');
  auto dir = slash == std::string::npos ? std::string(".") : path_.substr(0, slash + 1);
  int dir_fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir_fd >= 0) {
    ::fsync(dir_fd);
    ::close(dir_fd);
  }
  return true;
}

} // namespace baton::lease
