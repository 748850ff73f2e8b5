// The local API socket; see socket_server.hpp.
#include "daemon/socket_server.hpp"

#include <fcntl.h>
#include <grp.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <stdexcept>

#include "common/log.hpp"
#include "daemon/client_connection.hpp"

namespace baton {
namespace asio = boost::asio;
using boost::system::error_code;

namespace {

// Is somebody accepting on this socket path? ECONNREFUSED means the file is stale.
bool socket_is_live(const std::string& path) {
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::strncpy(addr.sun_path, path.c_str(), sizeof(addr.sun_path) - 1);
  bool live = ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0;
  ::close(fd);
  return live;
}

// The socket's directory decides who can replace the socket (or plant a symlink where it will
// be): it must be a real directory, the daemon's or root's, and writable by nobody else unless
// it is sticky (as /tmp is: then others cannot remove or rename what is ours).
void check_directory_of(const std::string& path) {
  auto slash = path.rfind('/');
  std::string dir = slash == std::string::npos ? "." : (slash == 0 ? "/" : path.substr(0, slash));
  struct stat info {};
  if (::lstat(dir.c_str(), &info) != 0)
    throw std::runtime_error("the socket's directory '" + dir + "' cannot be read: " +
                             std::strerror(errno) + " (systemd's RuntimeDirectory=baton makes it)");
  if (S_ISLNK(info.st_mode))
    throw std::runtime_error("the socket's directory '" + dir +
                             "' is a symlink; give the real directory");
  if (!S_ISDIR(info.st_mode))
    throw std::runtime_error("the socket's directory '" + dir + "' is not a directory");
  if (info.st_uid != ::geteuid() && info.st_uid != 0)
    throw std::runtime_error("the socket's directory '" + dir + "' belongs to uid " +
                             std::to_string(info.st_uid) +
                             ", who could replace the socket; use a directory of batond's own");
  if ((info.st_mode & (S_IWGRP | S_IWOTH)) != 0 && (info.st_mode & S_ISVTX) == 0)
    throw std::runtime_error("the socket's directory '" + dir +
                             "' is writable by others and not sticky, so they could replace "
                             "the socket; chmod go-w it");
}

} // namespace

socket_server::socket_server(daemon_context& ctx)
    : ctx_(ctx), acceptor_(ctx.io), path_(ctx.cfg.socket.path), sweep_timer_(ctx.io),
      retry_(ctx.io) {}

socket_server::~socket_server() {
  stop();
}

void socket_server::start() {
  if (path_.size() >= sizeof(sockaddr_un::sun_path))
    throw std::runtime_error("socket path '" + path_ + "' is longer than " +
                             std::to_string(sizeof(sockaddr_un::sun_path) - 1) + " bytes");
  check_directory_of(path_);
  struct stat info {};
  if (::lstat(path_.c_str(), &info) == 0) {
    if (!S_ISSOCK(info.st_mode))
      throw std::runtime_error("'" + path_ + "' exists and is not a socket; not touching it");
    if (socket_is_live(path_))
      throw std::runtime_error("socket '" + path_ +
                               "' is in use by a running batond; stop it first or choose "
                               "another path with --socket");
    log::warn("server", "replacing stale socket left by a previous batond", {{"socket", path_}});
    ::unlink(path_.c_str());
  }
  // The socket is born with its configured mode (the umask around bind), so there is no
  // moment with a wider one and no chmod by path that a swapped-in symlink could redirect.
  // With a group configured, it is born owner-only and opened to the group once it is the
  // group's (lchown: a symlink is not followed).
  const auto& cfg = ctx_.cfg.socket;
  mode_t born = cfg.group.empty() ? cfg.mode : (cfg.mode & 0700);
  mode_t old_umask = ::umask(static_cast<mode_t>(~born & 0777));
  error_code ec;
  acceptor_.open(asio::local::stream_protocol(), ec);
  if (!ec) acceptor_.bind(asio::local::stream_protocol::endpoint(path_), ec);
  ::umask(old_umask);
  if (ec) throw std::runtime_error("cannot bind socket '" + path_ + "': " + ec.message());
  if (!cfg.group.empty()) {
    struct group* grp = ::getgrnam(cfg.group.c_str());
    gid_t gid =
        grp ? grp->gr_gid : static_cast<gid_t>(std::strtoul(cfg.group.c_str(), nullptr, 10));
    if (::lchown(path_.c_str(), static_cast<uid_t>(-1), gid) != 0)
      throw std::runtime_error("cannot give socket '" + path_ + "' to group '" + cfg.group +
                               "': " + std::strerror(errno));
    if (::fchmodat(AT_FDCWD, path_.c_str(), cfg.mode, AT_SYMLINK_NOFOLLOW) != 0)
      throw std::runtime_error("cannot chmod socket '" + path_ + "': " + std::strerror(errno));
  }
  acceptor_.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) throw std::runtime_error("cannot listen on socket '" + path_ + "': " + ec.message());
  listening_ = true;
  ctx_.close_largest_client = [this] {
    std::shared_ptr<client_connection> largest;
    for (auto& weak : clients_)
      if (auto c = weak.lock(); c && !c->is_closed() && c->buffered() > 0 &&
                                (!largest || c->buffered() > largest->buffered()))
        largest = c;
    if (!largest) return false;
    largest->close_over_budget();
    return true;
  };
  log::info("server", "listening", {{"socket", path_}});
  accept();
  sweep();
}

void socket_server::sweep() {
  // Once a second: the stalled requests and idle clients (client_connection::close_if_stalled).
  // One timer for all clients, rather than one per client on the hot path.
  sweep_timer_.expires_after(std::chrono::seconds(1));
  sweep_timer_.async_wait([this](const error_code& ec) {
    if (ec || !listening_) return;
    auto now = std::chrono::steady_clock::now();
    for (auto& weak : clients_)
      if (auto client = weak.lock()) client->close_if_stalled(now);
    sweep();
  });
}

void socket_server::stop() {
  if (!listening_) return;
  listening_ = false;
  ctx_.close_largest_client = nullptr;
  sweep_timer_.cancel();
  retry_.cancel();
  error_code ignored;
  acceptor_.close(ignored);
  ::unlink(path_.c_str());
  for (auto& weak : clients_)
    if (auto client = weak.lock()) client->shut_down();
  clients_.clear();
}

void socket_server::track(const std::shared_ptr<client_connection>& client) {
  // Drop the entries of closed connections whenever the list doubles: amortised O(1).
  if (clients_.size() >= 64 && clients_.size() == clients_.capacity())
    clients_.erase(std::remove_if(clients_.begin(), clients_.end(),
                                  [](const auto& weak) { return weak.expired(); }),
                   clients_.end());
  clients_.push_back(client);
}

void socket_server::accept() {
  acceptor_.async_accept([this](const error_code& ec, asio::local::stream_protocol::socket socket) {
    if (!listening_) return;
    if (ec) return on_accept_error(ec);
    if (auto ended = backoff_.succeeded())
      log::info("server", "accepting again", {{"failed_accepts", std::to_string(ended)}});
    if (static_cast<std::size_t>(ctx_.requests.connected_clients.load()) >=
        ctx_.cfg.socket.max_clients) {
      ctx_.requests.rejected_clients.fetch_add(1, std::memory_order_relaxed);
      static const std::string refusal = "-ERR max number of clients reached\r\n";
      error_code ignored;
      asio::write(socket, asio::buffer(refusal), ignored); // a tiny write to a fresh socket
      socket.close(ignored);
    } else {
      auto client = std::make_shared<client_connection>(ctx_, std::move(socket));
      track(client);
      client->start();
    }
    accept();
  });
}

void socket_server::on_accept_error(const error_code& ec) {
  // EMFILE and friends: the listening socket stays readable, so back off rather than spin.
  ctx_.requests.socket_accept_errors.fetch_add(1, std::memory_order_relaxed);
  auto step = backoff_.failed();
  if (step.starts_episode)
    log::warn("server", "accept failed; backing off until it succeeds",
              {{"error", ec.message()}, {"delay_ms", std::to_string(step.delay.count())}});
  retry_.expires_after(step.delay);
  retry_.async_wait([this](const error_code& wait_error) {
    if (!wait_error && listening_) accept();
  });
}

} // namespace baton
