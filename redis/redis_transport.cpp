// Unix, TCP and TLS transports; see redis_transport.hpp.
#include "redis/redis_transport.hpp"

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/write.hpp>

namespace baton::redis_link {
namespace asio = boost::asio;
using boost::system::error_code;

namespace {

class unix_transport final : public redis_transport {
public:
  unix_transport(asio::io_context& io, std::string path) : socket_(io), path_(std::move(path)) {}

  void async_connect(connect_handler done) override {
    socket_ = asio::local::stream_protocol::socket(socket_.get_executor());
    socket_.async_connect(asio::local::stream_protocol::endpoint(path_), std::move(done));
  }
  void async_write(asio::const_buffer data, io_handler done) override {
    asio::async_write(socket_, data, std::move(done));
  }
  void async_read_some(asio::mutable_buffer into, io_handler done) override {
    socket_.async_read_some(into, std::move(done));
  }
  bool has_unread() const override {
    boost::system::error_code ignored;
    return socket_.is_open() && socket_.available(ignored) > 0;
  }
  void close() override {
    error_code ignored;
    socket_.close(ignored);
  }

private:
  asio::local::stream_protocol::socket socket_;
  std::string path_;
};

class tcp_transport final : public redis_transport {
public:
  tcp_transport(asio::io_context& io, std::string host, unsigned short port)
      : resolver_(io), socket_(io), host_(std::move(host)), port_(port) {}

  void async_connect(connect_handler done) override {
    socket_ = asio::ip::tcp::socket(socket_.get_executor());
    resolver_.async_resolve(
        host_, std::to_string(port_),
        [this, done = std::move(done)](const error_code& ec,
                                       asio::ip::tcp::resolver::results_type results) mutable {
          if (ec) return done(ec);
          asio::async_connect(socket_, results,
                              [this, done = std::move(done)](const error_code& cec, const auto&) {
                                if (!cec) {
                                  error_code ignored;
                                  socket_.set_option(asio::ip::tcp::no_delay(true), ignored);
                                }
                                done(cec);
                              });
        });
  }
  void async_write(asio::const_buffer data, io_handler done) override {
    asio::async_write(socket_, data, std::move(done));
  }
  void async_read_some(asio::mutable_buffer into, io_handler done) override {
    socket_.async_read_some(into, std::move(done));
  }
  bool has_unread() const override {
    boost::system::error_code ignored;
    return socket_.is_open() && socket_.available(ignored) > 0;
  }
  void close() override {
    resolver_.cancel();
    error_code ignored;
    socket_.close(ignored);
  }

private:
  asio::ip::tcp::resolver resolver_;
  asio::ip::tcp::socket socket_;
  std::string host_;
  unsigned short port_;
};

class tls_transport final : public redis_transport {
public:
  tls_transport(asio::io_context& io, std::string host, unsigned short port, const tls_options& tls)
      : io_(io), resolver_(io), context_(asio::ssl::context::tls_client), host_(std::move(host)),
        port_(port), server_name_(tls.server_name.empty() ? host_ : tls.server_name),
        verify_(tls.verify_peer) {
    context_.set_options(asio::ssl::context::default_workarounds | asio::ssl::context::no_sslv2 |
                         asio::ssl::context::no_sslv3 | asio::ssl::context::no_tlsv1 |
                         asio::ssl::context::no_tlsv1_1);
    if (tls.ca_file.empty())
      context_.set_default_verify_paths();
    else
      context_.load_verify_file(tls.ca_file);
    if (!tls.cert_file.empty()) context_.use_certificate_chain_file(tls.cert_file);
    if (!tls.key_file.empty()) context_.use_private_key_file(tls.key_file, asio::ssl::context::pem);
    context_.set_verify_mode(verify_ ? asio::ssl::verify_peer : asio::ssl::verify_none);
  }

  void async_connect(connect_handler done) override {
    // A TLS stream cannot be reused after shutdown: make a fresh one per connect, and keep
    // the previous one alive a while longer, as its aborted operations may still be queued.
    retired_ = std::move(stream_);
    stream_ = std::make_unique<asio::ssl::stream<asio::ip::tcp::socket>>(io_, context_);
    if (!SSL_set_tlsext_host_name(stream_->native_handle(), server_name_.c_str()))
      return done(error_code(static_cast<int>(::ERR_get_error()), asio::error::get_ssl_category()));
    if (verify_) stream_->set_verify_callback(asio::ssl::host_name_verification(server_name_));
    resolver_.async_resolve(
        host_, std::to_string(port_),
        [this, done = std::move(done)](const error_code& ec,
                                       asio::ip::tcp::resolver::results_type results) mutable {
          if (ec) return done(ec);
          asio::async_connect(
              stream_->next_layer(), results,
              [this, done = std::move(done)](const error_code& cec, const auto&) mutable {
                if (cec) return done(cec);
                error_code ignored;
                stream_->next_layer().set_option(asio::ip::tcp::no_delay(true), ignored);
                stream_->async_handshake(asio::ssl::stream_base::client, std::move(done));
              });
        });
  }
  void async_write(asio::const_buffer data, io_handler done) override {
    asio::async_write(*stream_, data, std::move(done));
  }
  void async_read_some(asio::mutable_buffer into, io_handler done) override {
    stream_->async_read_some(into, std::move(done));
  }
  bool has_unread() const override {
    if (!stream_) return false;
    boost::system::error_code ignored;
    return SSL_pending(stream_->native_handle()) > 0 ||
           (stream_->next_layer().is_open() && stream_->next_layer().available(ignored) > 0);
  }
  void close() override {
    resolver_.cancel();
    if (stream_) {
      error_code ignored;
      stream_->next_layer().close(ignored);
    }
  }

private:
  asio::io_context& io_;
  asio::ip::tcp::resolver resolver_;
  asio::ssl::context context_;
  std::unique_ptr<asio::ssl::stream<asio::ip::tcp::socket>> stream_;
  std::unique_ptr<asio::ssl::stream<asio::ip::tcp::socket>> retired_;
  std::string host_;
  unsigned short port_;
  std::string server_name_;
  bool verify_;
};

} // namespace

std::unique_ptr<redis_transport>
make_transport(asio::io_context& io, const redis_endpoint& endpoint, const tls_options& tls) {
  switch (endpoint.transport) {
  case transport_kind::unix_socket:
    return std::make_unique<unix_transport>(io, endpoint.path);
  case transport_kind::tls:
    return std::make_unique<tls_transport>(io, endpoint.host, endpoint.port, tls);
  default:
    return std::make_unique<tcp_transport>(io, endpoint.host, endpoint.port);
  }
}

} // namespace baton::redis_link
