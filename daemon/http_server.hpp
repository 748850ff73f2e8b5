// The HTTP endpoint for operators and orchestrators (loopback by default):
//   /metrics  Prometheus text format
//   /healthz  200 while the process serves at all
//   /readyz   200 when Redis is reachable and the node is not draining, 503 otherwise
// Built on Boost.Beast; one short exchange per request, keep-alive honoured.
#pragma once

#include <boost/asio/ip/tcp.hpp>

#include <string>

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

  daemon_context& ctx_;
  boost::asio::ip::tcp::acceptor acceptor_;
  bool listening_ = false;
};

/// Builds the reply for one path: status code, content type and body.
struct http_answer {
  unsigned status;
  std::string content_type;
  std::string body;
};
http_answer answer_http(daemon_context& ctx, const std::string& method, const std::string& target);

} // namespace baton
