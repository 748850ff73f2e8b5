// The Unix socket of the local API. On start it refuses to steal a socket that a live batond
// still serves, replaces a stale file left by a crashed one, and sets the configured mode and
// group before accepting anyone. Past max_clients, new connections get an error and close; a
// failing accept (EMFILE...) backs off (daemon/accept_backoff.hpp).
#pragma once

#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/steady_timer.hpp>

#include <memory>
#include <string>
#include <vector>

#include "daemon/accept_backoff.hpp"
#include "daemon/daemon_context.hpp"

namespace baton {

class client_connection;

class socket_server {
public:
  explicit socket_server(daemon_context& ctx);
  ~socket_server();

  /// Binds and listens. Throws std::runtime_error with a clear message on failure
  /// (start-up only).
  void start();
  /// Stops accepting, removes the socket file, and closes every client connection (their
  /// leases are released as for any closed connection).
  void stop();

private:
  void accept();
  void on_accept_error(const boost::system::error_code& ec);
  void track(const std::shared_ptr<client_connection>& client);
  void sweep();

  daemon_context& ctx_;
  boost::asio::local::stream_protocol::acceptor acceptor_;
  std::string path_;
  bool listening_ = false;
  std::vector<std::weak_ptr<client_connection>> clients_; ///< pruned as it grows
  boost::asio::steady_timer sweep_timer_;
  accept_backoff backoff_;
  boost::asio::steady_timer retry_;
};

} // namespace baton
