// One client of the local API on the Unix socket. Reads requests, answers them in order (a
// reply waits for the ones before it, as RESP pipelining requires), and applies backpressure:
// with max_pipeline requests unanswered, or too many reply bytes unsent, it stops reading
// until the client catches up. Malformed input gets one error and the connection is closed.
#pragma once

#include <boost/asio/local/stream_protocol.hpp>

#include <chrono>
#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "daemon/daemon_context.hpp"
#include "daemon/peer_credentials.hpp"
#include "protocol/error_code.hpp"
#include "protocol/reply_writer.hpp"
#include "protocol/request_parser.hpp"
#include "protocol/result.hpp"

namespace baton {

class client_connection : public std::enable_shared_from_this<client_connection> {
public:
  using socket_type = boost::asio::local::stream_protocol::socket;
  using clock = std::chrono::steady_clock;

  client_connection(daemon_context& ctx, socket_type socket);
  ~client_connection();

  void start();
  /// Closes the connection now (daemon stopping); pending replies are dropped.
  void shut_down() { close(); }
  /// Closes a client whose request in progress began more than socket.request_timeout_ms
  /// ago (one that trickles a request, slow-loris), or that sent nothing for
  /// socket.idle_timeout_ms (if set; not while it watches or waits for replies). True if it
  /// closed it. socket_server calls it once a second.
  bool close_if_stalled(clock::time_point now);
  /// What this connection holds in partial requests and unsent replies and pushes.
  std::size_t buffered() const { return accounted_; }
  /// Closes it for holding the most when all clients together were past the cap.
  void close_over_budget();

  // -- what command handlers read and change ---------------------------------
  std::uint64_t id() const { return id_; }
  int protocol() const { return protocol_; }
  void set_protocol(int resp_version) { protocol_ = resp_version; }
  const std::string& name() const { return name_; }
  void set_name(std::string name) { name_ = std::move(name); }
  const peer_credentials& peer() const { return peer_; }
  bool is_closed() const { return closed_; }
  /// Close once the replies queued so far are written (QUIT).
  void close_after_reply() { close_after_flush_ = true; }

  // -- pushes (push_hub) ------------------------------------------------------
  /// How many topics the connection watches (push_hub keeps it).
  void set_watching(std::size_t topics) { watching_ = topics; }
  std::size_t watching() const { return watching_; }
  /// A RESP2 connection that watches something takes only watch commands, PING, HELLO and
  /// QUIT: its pushes are plain arrays that a reply could not be told apart from.
  bool in_watch_mode() const { return protocol_ < 3 && watching_ > 0; }
  /// Sends an encoded push between replies. A client that lets pushes pile up unread past
  /// a limit is disconnected (as Redis does with a pub/sub client's output buffer).
  void push(std::string encoded);

  /// A slot for one reply, in request order; complete it exactly once.
  struct reply_ticket {
    std::uint64_t sequence;
    std::size_t family;
    clock::time_point arrived;
    int protocol;
  };
  /// Completes a reply, possibly later and from a callback on the I/O thread. Safe after the
  /// connection closed (the reply is dropped).
  void complete(const reply_ticket& ticket, std::string encoded);
  /// Completes the request with an error reply ("ERR ...", "NOTHELD ...").
  void fail(const reply_ticket& ticket, const std::string& error_text);
  /// Completes the ticket with "CODE why", an error of the vocabulary.
  void fail(const reply_ticket& ticket, protocol::error_code code, std::string_view why);

private:
  void read();
  void on_read(const boost::system::error_code& ec, std::size_t bytes);
  void process_input();
  bool can_accept_more() const;
  void dispatch(std::vector<std::string>& args);
  void flush_ready_replies();
  void write();
  void close();
  /// Keeps ctx.buffered_bytes in step with what this connection holds; false when all
  /// clients together are past socket.max_buffered_bytes (the caller closes this one).
  bool account();
  /// Past the cap: the client holding the most goes (which may be this one), until under.
  void shed();
  void uncount_uid();

  daemon_context& ctx_;
  socket_type socket_;
  std::uint64_t id_;
  peer_credentials peer_;
  protocol::request_parser parser_;
  std::size_t max_pipeline_;
  std::string input_;
  std::vector<char> read_buffer_;
  std::vector<std::string> args_;
  bool read_in_flight_ = false;
  bool processing_ = false;
  bool closed_ = false;
  bool close_after_flush_ = false;
  std::size_t accounted_ = 0;         ///< this connection's part of ctx.buffered_bytes
  clock::time_point partial_since_{}; ///< a request began and is not complete yet
  clock::time_point last_activity_ = clock::now();
  bool counted_uid_ = false;
  int protocol_ = 2;
  std::string name_;
  std::size_t watching_ = 0;

  struct slot {
    bool done = false;
    std::string bytes;
  };
  std::deque<slot> slots_;
  std::uint64_t first_sequence_ = 0; ///< sequence number of slots_.front()
  std::uint64_t next_sequence_ = 0;
  std::string output_;
  std::string writing_;
  bool write_in_flight_ = false;
};

/// What completes `ticket` with a service's result<T>: its failure as its error reply
/// (reply_writer::error(const failure&)), else its value as `write(out, value)` writes it.
template <class T, class Write>
std::function<void(protocol::result<T>)> reply_with(std::shared_ptr<client_connection> self,
                                                    client_connection::reply_ticket ticket,
                                                    Write write) {
  return [self = std::move(self), ticket, write = std::move(write)](protocol::result<T> r) {
    self->complete(ticket, protocol::encode_result(r, ticket.protocol, write));
  };
}

} // namespace baton
