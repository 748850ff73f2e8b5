// The HTTP endpoint; see http_server.hpp.
#include "daemon/http_server.hpp"

#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include <algorithm>
#include <memory>

#include "build_info.hpp"
#include "common/log.hpp"
#include "daemon/config_loader.hpp"
#include "daemon/http_request.hpp"
#include "daemon/redis_health_view.hpp"
#include "services/cache/cache_service.hpp"
#include "daemon/ui/fleet_snapshot.hpp"
#include "daemon/ui/ui_assets.hpp"
#include "metrics/prometheus_text.hpp"
#include "services/breaker/breaker_service.hpp"
#include "services/rate/rate_service.hpp"
#include "services/secret/secret_service.hpp"
#include "services/session/session_service.hpp"

namespace baton {
namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using boost::system::error_code;

namespace {

// The metrics each command family's service keeps beyond the request counters.
std::string family_metrics(const daemon_context& ctx) {
  std::string out;
  if (ctx.rates) ctx.rates->counters().render(out);
  if (ctx.secrets) ctx.secrets->render_metrics(out);
  if (ctx.breakers) ctx.breakers->render_metrics(out);
  if (ctx.cache) ctx.cache->render_metrics(out);
  if (ctx.sessions) ctx.sessions->render_metrics(out);
  ctx.pushes.render_metrics(out);
  render_redis_health_metrics(ctx.redis_health.get(), out);
  return out;
}

// The fleet page loads nothing from elsewhere and runs no inline code: a lease name that
// looks like markup stays text even if a bug let it into the page as HTML.
const std::pair<std::string, std::string> page_policy{
    "Content-Security-Policy",
    "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; "
    "img-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"};

// The endpoints that need no Redis and no wait: metrics, health, readiness, errors.
http_answer answer_now(daemon_context& ctx, http_endpoint endpoint);

void answer_ui(ui::fleet_snapshot* fleet, http_endpoint endpoint,
               const http_question& question, std::function<void(http_answer)> done) {
  if (fleet == nullptr)
    return done({404, "text/plain", "not found: the fleet page is off (http.ui)\n"});
  if (!host_is_address(question.host))
    return done({403, "text/plain",
                 "forbidden: the fleet page answers only a Host that is an address or "
                 "localhost (a guard against DNS rebinding), not '" +
                     question.host.substr(0, 100) + "'\n"});
  if (endpoint == http_endpoint::ui_fleet)
    return fleet->get([done = std::move(done)](const std::string& json) {
      done({200, "application/json", json, {{"Cache-Control", "no-store"}}});
    });
  auto name = endpoint == http_endpoint::ui_page ? std::string_view("index.html")
                                                 : ui_asset_name(question.target);
  auto* asset = ui::find_ui_asset(name);
  if (asset == nullptr) return done({404, "text/plain", "not found\n"});
  done({200, std::string(asset->content_type), std::string(asset->body), {page_policy}});
}

} // namespace

class http_session : public std::enable_shared_from_this<http_session> {
public:
  http_session(daemon_context& ctx, std::shared_ptr<ui::fleet_snapshot> fleet,
               asio::ip::tcp::socket socket)
      : ctx_(ctx), fleet_(std::move(fleet)), stream_(std::move(socket)),
        open_(ctx.requests.http_connections) {
    open_->fetch_add(1, std::memory_order_relaxed);
  }
  ~http_session() { open_->fetch_sub(1, std::memory_order_relaxed); }
  http_session(const http_session&) = delete;
  http_session& operator=(const http_session&) = delete;

  void start() { read(); }

  /// Waiting for the next request of a keep-alive connection with none of it read yet: such
  /// a connection may be closed to make room (a client must expect that between requests).
  std::optional<std::chrono::steady_clock::time_point> idle_since() const {
    if (!waiting_ || buffer_.size() > 0 || (parser_ && parser_->got_some())) return std::nullopt;
    return waiting_since_;
  }
  void close() {
    error_code ignored;
    stream_.socket().shutdown(asio::ip::tcp::socket::shutdown_both, ignored);
    stream_.socket().close(ignored);
  }

private:
  void read() {
    waiting_ = true;
    waiting_since_ = std::chrono::steady_clock::now();
    request_ = {};
    parser_.emplace();
    limit_http_parser(*parser_);
    stream_.expires_after(std::chrono::seconds(10));
    http::async_read(stream_, buffer_, *parser_,
                     [self = shared_from_this()](const error_code& ec, std::size_t) {
                       self->waiting_ = false;
                       if (ec) return self->close();
                       self->request_ = self->parser_->release();
                       self->respond();
                     });
  }

  void respond() {
    http_question question{std::string(request_.method_string()), std::string(request_.target()),
                           std::string(request_[http::field::host])};
    answer_http(ctx_, fleet_.get(), question,
                [self = shared_from_this()](http_answer answer) { self->send(std::move(answer)); });
  }

  void send(http_answer answer) {
    response_ = {};
    response_.version(request_.version());
    response_.result(static_cast<http::status>(answer.status));
    response_.set(http::field::server, "batond");
    response_.set(http::field::content_type, answer.content_type);
    response_.set("X-Content-Type-Options", "nosniff");
    for (const auto& [field, value] : answer.headers)
      response_.set(field, value);
    response_.keep_alive(request_.keep_alive());
    response_.body() = std::move(answer.body);
    response_.prepare_payload();
    // The answer may have waited for Redis (the fleet page): the write gets its own time.
    stream_.expires_after(std::chrono::seconds(10));
    http::async_write(stream_, response_,
                      [self = shared_from_this()](const error_code& ec, std::size_t) {
                        if (ec || !self->response_.keep_alive()) return self->close();
                        self->read();
                      });
  }

  daemon_context& ctx_;
  std::shared_ptr<ui::fleet_snapshot> fleet_;
  bool waiting_ = false;
  std::chrono::steady_clock::time_point waiting_since_{};
  beast::tcp_stream stream_;
  beast::flat_buffer buffer_{http_buffer_limit};
  std::shared_ptr<std::atomic<std::int64_t>> open_; ///< counts this session while it lives
  std::optional<http_request_parser> parser_;
  http::request<http::string_body> request_;
  http::response<http::string_body> response_;
};

void answer_http(daemon_context& ctx, ui::fleet_snapshot* fleet, const http_question& question,
                 std::function<void(http_answer)> done) {
  auto endpoint = route_http(question.method, question.target);
  if (endpoint == http_endpoint::ui_page || endpoint == http_endpoint::ui_fleet ||
      endpoint == http_endpoint::ui_asset)
    return answer_ui(fleet, endpoint, question, std::move(done));
  done(answer_now(ctx, endpoint));
}

namespace {

http_answer answer_now(daemon_context& ctx, http_endpoint endpoint) {
  if (endpoint == http_endpoint::method_not_allowed)
    return {405, "text/plain", "only GET and HEAD\n"};
  if (endpoint == http_endpoint::metrics) {
    metrics::process_facts facts{ctx.cfg.node_id, baton::version, ctx.start_unix_seconds,
                                 ctx.ready(), ctx.draining.load()};
    return {200, "text/plain; version=0.0.4; charset=utf-8",
            metrics::render_prometheus(ctx.requests, ctx.link, facts) + family_metrics(ctx)};
  }
  if (endpoint == http_endpoint::healthz) return {200, "text/plain", "ok\n"};
  if (endpoint == http_endpoint::readyz) {
    if (ctx.draining.load()) return {503, "text/plain", "not ready: draining\n"};
    auto status = ctx.redis.status();
    if (!status.reachable())
      return {503, "text/plain",
              "not ready: redis unreachable (" +
                  (status.last_error.empty() ? std::string("connecting") : status.last_error) +
                  ")\n"};
    return {200, "text/plain", "ready\n"};
  }
  return {404, "text/plain", "not found; try /metrics, /healthz, /readyz or /ui\n"};
}

} // namespace

http_server::http_server(daemon_context& ctx) : ctx_(ctx), acceptor_(ctx.io), retry_(ctx.io) {
  if (ctx.cfg.http.ui) fleet_ = std::make_shared<ui::fleet_snapshot>(ctx);
}

void http_server::start() {
  std::string host;
  unsigned short port = 0;
  if (!parse_listen_address(ctx_.cfg.http.listen, host, port))
    throw std::runtime_error("bad http listen address '" + ctx_.cfg.http.listen + "'");
  error_code ec;
  auto address = asio::ip::make_address(host, ec);
  if (ec)
    throw std::runtime_error("bad http listen address '" + ctx_.cfg.http.listen +
                             "': host must be an IP address");
  asio::ip::tcp::endpoint endpoint(address, port);
  acceptor_.open(endpoint.protocol(), ec);
  if (!ec) acceptor_.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) acceptor_.bind(endpoint, ec);
  if (!ec) acceptor_.listen(asio::socket_base::max_listen_connections, ec);
  if (ec)
    throw std::runtime_error("cannot listen for http on " + ctx_.cfg.http.listen + ": " +
                             ec.message());
  auto bound = acceptor_.local_endpoint().port(); // differs from `port` when that was 0
  listening_ = true;
  log::info("http", "listening", {{"address", host + ":" + std::to_string(bound)}});
  accept();
}

void http_server::stop() {
  listening_ = false;
  retry_.cancel();
  error_code ignored;
  acceptor_.close(ignored);
}

void http_server::accept() {
  acceptor_.async_accept([this](const error_code& ec, asio::ip::tcp::socket socket) {
    if (!listening_) return;
    if (ec) return on_accept_error(ec);
    if (auto ended = backoff_.succeeded())
      log::info("http", "accepting again", {{"failed_accepts", std::to_string(ended)}});
    auto open_now = ctx_.requests.http_connections->load(std::memory_order_relaxed);
    if (open_now >= static_cast<std::int64_t>(ctx_.cfg.http.max_connections) &&
        close_longest_idle())
      open_now = -1; // the idle one's place is this one's (it ends once its handler has run)
    if (open_now >= static_cast<std::int64_t>(ctx_.cfg.http.max_connections)) {
      // Closed before anything is read: costs the daemon nothing but the accept.
      auto rejected = ctx_.requests.http_rejected.fetch_add(1, std::memory_order_relaxed);
      if (rejected == 0 || (rejected + 1) % 1000 == 0)
        log::warn("http", "connection refused: http.max_connections reached",
                  {{"max_connections", std::to_string(ctx_.cfg.http.max_connections)},
                   {"refused_so_far", std::to_string(rejected + 1)}});
      error_code ignored;
      socket.close(ignored);
    } else {
      auto session = std::make_shared<http_session>(ctx_, fleet_, std::move(socket));
      if (sessions_.size() >= 2 * ctx_.cfg.http.max_connections + 16) prune_sessions();
      sessions_.push_back(session);
      session->start();
    }
    accept();
  });
}

void http_server::prune_sessions() {
  sessions_.erase(std::remove_if(sessions_.begin(), sessions_.end(),
                                 [](const auto& weak) { return weak.expired(); }),
                  sessions_.end());
}

bool http_server::close_longest_idle() {
  prune_sessions();
  std::shared_ptr<http_session> oldest;
  std::chrono::steady_clock::time_point oldest_since{};
  for (const auto& weak : sessions_) {
    auto session = weak.lock();
    if (!session) continue;
    auto since = session->idle_since();
    if (since && (!oldest || *since < oldest_since)) {
      oldest = session;
      oldest_since = *since;
    }
  }
  if (!oldest) return false;
  ctx_.requests.http_idle_closed.fetch_add(1, std::memory_order_relaxed);
  oldest->close();
  return true;
}

void http_server::on_accept_error(const error_code& ec) {
  ctx_.requests.http_accept_errors.fetch_add(1, std::memory_order_relaxed);
  auto step = backoff_.failed();
  if (step.starts_episode)
    log::warn("http", "accept failed; backing off until it succeeds",
              {{"error", ec.message()}, {"delay_ms", std::to_string(step.delay.count())}});
  retry_.expires_after(step.delay);
  retry_.async_wait([this](const error_code& wait_error) {
    if (!wait_error && listening_) accept();
  });
}

} // namespace baton
