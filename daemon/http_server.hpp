// The HTTP endpoint for operators and orchestrators (loopback by default):
//   /metrics  Prometheus text format
//   /healthz  200 while the process serves at all
//   /readyz   200 when Redis is reachable and the node is not draining, 503 otherwise
// Built on Boost.Beast; one short exchange per request, keep-alive honoured. At most
// http.max_connections are open at once (more are closed as soon as accepted, so a scraper
// gone wild cannot take the daemon's descriptors), and a failing accept backs off.
#pragma once

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>

#include <string>

#include "daemon/accept_backoff.hpp"
#include "daemon/daemon_context.hpp"

namespace baton {

class http_server {
public:
  explicit http_server(daemon_context& ctx);

  /// Binds the configured address. Throws std::runtime_error on failure (start-up only).
  void start();
  void stop();

private:
  void accept();
  void on_accept_error(const boost::system::error_code& ec);

  daemon_context& ctx_;
  boost::asio::ip::tcp::acceptor acceptor_;
  bool listening_ = false;
  accept_backoff backoff_;
  boost::asio::steady_timer retry_;
};

/// Builds the reply for one path: status code, content type and body.
struct http_answer {
  unsigned status;
  std::string content_type;
  std::string body;
};
http_answer answer_http(daemon_context& ctx, const std::string& method, const std::string& target);

} // namespace baton
