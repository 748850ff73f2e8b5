// A small blocking RESP client over a Unix socket or TCP: batonctl, the tests and the
// benchmarks use it to talk to batond (and to Redis, for baselines). It reads RESP2 and
// RESP3 replies, pushes included. Not for use inside batond, which never blocks.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace baton::protocol {

struct resp_value {
  enum class type { simple, error, integer, bulk, null, array, map, set, push, boolean, floating };
  type kind = type::null;
  std::string str;                  ///< simple, error, bulk, floating (as text)
  std::int64_t integer = 0;         ///< integer, boolean
  std::vector<resp_value> elements; ///< array, set, push; map as key, value, key, value ...

  bool is_error() const { return kind == type::error; }
  /// A printable rendering, like redis-cli's.
  std::string to_string() const;
};

class resp_client {
public:
  /// Connects to a Unix socket path, or to "host:port" for TCP. Throws std::runtime_error.
  explicit resp_client(const std::string& address, int timeout_ms = 5000);
  ~resp_client();
  resp_client(const resp_client&) = delete;
  resp_client& operator=(const resp_client&) = delete;

  /// Sends one command (an array of bulk strings). Throws on I/O errors.
  void send(const std::vector<std::string>& args);
  /// Sends raw bytes (for tests of malformed input).
  void send_raw(std::string_view bytes);
  /// Reads one reply. Throws std::runtime_error on timeout, EOF or garbage.
  resp_value read();
  /// send + read.
  resp_value call(const std::vector<std::string>& args);
  /// True once the server closed the connection (after a read returned EOF).
  bool closed_by_peer();

  int fd() const { return fd_; }
  /// Bytes already read from the socket and not yet parsed: poll() on fd() would not see them.
  bool buffered() const { return position_ < buffer_.size(); }

  /// Formats a command as RESP.
  static std::string format(const std::vector<std::string>& args);

private:
  std::string read_line();
  std::string read_exact(std::size_t n);
  void fill();

  int fd_ = -1;
  int timeout_ms_;
  std::string buffer_;
  std::size_t position_ = 0;
};

} // namespace baton::protocol
