// The HTTP endpoint for operators and orchestrators (loopback by default):
//   /metrics  Prometheus text format
//   /healthz  200 while the process serves at all
//   /readyz   200 when Redis is reachable and the node is not draining, 503 otherwise
//   /ui       the fleet page (daemon/ui/), read-only, unless http.ui is false
// Built on Boost.Beast; one short exchange per request, keep-alive honoured. At most
// http.max_connections are open at once, so a scraper gone wild cannot take the daemon's
// descriptors: past it, a new connection takes the place of the one idle longest between
// keep-alive requests (so idle connections held open by a local process cannot keep the
// orchestrator's probes out), and is closed as soon as accepted only when none is idle. A
// failing accept backs off.
#pragma once

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>

#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "daemon/accept_backoff.hpp"
#include "daemon/daemon_context.hpp"

namespace baton {

namespace ui {
class fleet_snapshot;
}

class http_session;

class http_server {
public:
  explicit http_server(daemon_context& ctx);

  /// Binds the configured address. Throws std::runtime_error on failure (start-up only).
  void start();
  void stop();

private:
  void accept();
  void on_accept_error(const boost::system::error_code& ec);
  /// Closes the open connection idle longest between requests; false if none is idle.
  bool close_longest_idle();
  void prune_sessions(); ///< forgets the ones that ended

  daemon_context& ctx_;
  boost::asio::ip::tcp::acceptor acceptor_;
  bool listening_ = false;
  accept_backoff backoff_;
  boost::asio::steady_timer retry_;
  std::vector<std::weak_ptr<http_session>> sessions_; ///< open ones (and some just ended)
  std::shared_ptr<ui::fleet_snapshot> fleet_;         ///< null when http.ui is off
};

/// What one request asks: its method, target and Host header.
struct http_question {
  std::string method;
  std::string target;
  std::string host;
};

/// The reply to one request: status code, content type, body and any further headers.
struct http_answer {
  unsigned status;
  std::string content_type;
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers = {};
};

/// Builds the reply for one request and hands it to `done`: at once, or for the fleet
/// page's document (which needs Redis) from a callback on the I/O thread. `fleet` is null
/// when the page is off.
void answer_http(daemon_context& ctx, ui::fleet_snapshot* fleet, const http_question& question,
                 std::function<void(http_answer)> done);

} // namespace baton
