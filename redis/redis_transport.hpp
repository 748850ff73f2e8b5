// The byte stream to one Redis server: a Unix socket, TCP, or TLS over TCP (OpenSSL through
// asio::ssl). The connection above it speaks RESP and does not care which one it has.
#pragma once

#include <boost/asio/buffer.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/system/error_code.hpp>

#include <functional>
#include <memory>
#include <string>

#include "redis/redis_endpoint.hpp"

namespace baton::redis_link {

struct tls_options {
  std::string ca_file;     ///< CA bundle to verify the server; empty: system default paths
  std::string cert_file;   ///< client certificate (for Redis' tls-auth-clients)
  std::string key_file;    ///< client private key
  std::string server_name; ///< SNI and name to verify; empty: the URL's host
  bool verify_peer = true;
};

class redis_transport {
public:
  using connect_handler = std::function<void(const boost::system::error_code&)>;
  using io_handler = std::function<void(const boost::system::error_code&, std::size_t)>;

  virtual ~redis_transport() = default;

  /// Resolves, connects and (for TLS) handshakes.
  virtual void async_connect(connect_handler done) = 0;
  /// Writes the whole buffer; it must stay alive until `done` runs.
  virtual void async_write(boost::asio::const_buffer data, io_handler done) = 0;
  virtual void async_read_some(boost::asio::mutable_buffer into, io_handler done) = 0;
  /// Cancels pending operations; their handlers run with operation_aborted.
  virtual void close() = 0;
  /// Bytes have arrived that no read has taken yet (FIONREAD; for TLS, the socket's or
  /// OpenSSL's buffer). A near cache asks it of the invalidation channel before it answers.
  virtual bool has_unread() const = 0;
};

/// Makes the transport for an endpoint. Throws std::runtime_error if TLS files cannot be
/// loaded (this happens at start-up, where exceptions are allowed).
std::unique_ptr<redis_transport>
make_transport(boost::asio::io_context& io, const redis_endpoint& endpoint, const tls_options& tls);

} // namespace baton::redis_link
