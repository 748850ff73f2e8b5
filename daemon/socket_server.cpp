// The local API socket; see socket_server.hpp.
#include "daemon/socket_server.hpp"

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

} // namespace

socket_server::socket_server(daemon_context& ctx)
    : ctx_(ctx), acceptor_(ctx.io), path_(ctx.cfg.socket.path) {}

socket_server::~socket_server() {
  stop();
}

void socket_server::start() {
  if (path_.size() >= sizeof(sockaddr_un::sun_path))
    throw std::runtime_error("socket path '" + path_ + "' is longer than " +
                             std::to_string(sizeof(sockaddr_un::sun_path) - 1) + " bytes");
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
  // Bind under a restrictive umask so that nobody can connect before chmod/chown below.
  mode_t old_umask = ::umask(0177);
  error_code ec;
  acceptor_.open(asio::local::stream_protocol(), ec);
  if (!ec) acceptor_.bind(asio::local::stream_protocol::endpoint(path_), ec);
  ::umask(old_umask);
  if (ec) throw std::runtime_error("cannot bind socket '" + path_ + "': " + ec.message());
  const auto& cfg = ctx_.cfg.socket;
  if (!cfg.group.empty()) {
    struct group* grp = ::getgrnam(cfg.group.c_str());
    gid_t gid =
        grp ? grp->gr_gid : static_cast<gid_t>(std::strtoul(cfg.group.c_str(), nullptr, 10));
    if (::chown(path_.c_str(), static_cast<uid_t>(-1), gid) != 0)
      throw std::runtime_error("cannot give socket '" + path_ + "' to group '" + cfg.group +
                               "': " + std::strerror(errno));
  }
  if (::chmod(path_.c_str(), cfg.mode) != 0)
    throw std::runtime_error("cannot chmod socket '" + path_ + "': " + std::strerror(errno));
  acceptor_.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) throw std::runtime_error("cannot listen on socket '" + path_ + "': " + ec.message());
  listening_ = true;
  log::info("server", "listening", {{"socket", path_}});
  accept();
}

void socket_server::stop() {
  if (!listening_) return;
  listening_ = false;
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
    if (ec) {
      // EMFILE and friends: log, back off a little, and keep accepting.
      log::warn("server", "accept failed", {{"error", ec.message()}});
      auto timer = std::make_shared<asio::steady_timer>(ctx_.io, std::chrono::milliseconds(50));
      timer->async_wait([this, timer](const error_code&) {
        if (listening_) accept();
      });
      return;
    }
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

} // namespace baton
