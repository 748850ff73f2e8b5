// A client of the local API; see client_connection.hpp.
#include "daemon/client_connection.hpp"

#include <boost/asio/write.hpp>

#include "common/log.hpp"
#include "daemon/command_router.hpp"
#include "protocol/reply_writer.hpp"

namespace baton {
namespace asio = boost::asio;
using boost::system::error_code;

namespace {
constexpr std::size_t read_chunk = 16 * 1024;
/// Stop reading while this many reply bytes wait for a client that does not read them.
constexpr std::size_t output_high_water = 4 << 20;
/// Pushes a client does not read are dropped with the client past this many unsent bytes.
constexpr std::size_t push_output_limit = 32 << 20;
} // namespace

client_connection::client_connection(daemon_context& ctx, socket_type socket)
    : ctx_(ctx), socket_(std::move(socket)), id_(++ctx.next_client_id),
      parser_(protocol::request_limits{ctx.cfg.socket.max_request_bytes,
                                       ctx.cfg.socket.max_arguments, 64 * 1024}),
      max_pipeline_(ctx.cfg.socket.max_pipeline), read_buffer_(read_chunk) {
  peer_ = read_peer_credentials(socket_.native_handle());
  ctx_.requests.connected_clients.fetch_add(1, std::memory_order_relaxed);
  ctx_.requests.accepted_clients.fetch_add(1, std::memory_order_relaxed);
}

client_connection::~client_connection() {
  ctx_.requests.connected_clients.fetch_sub(1, std::memory_order_relaxed);
  ctx_.buffered_bytes -= accounted_;
  uncount_uid();
}

void client_connection::uncount_uid() {
  // At close, not at destruction: a closed connection kept alive by callbacks still on their
  // way must not keep its app from reconnecting.
  if (!counted_uid_) return;
  counted_uid_ = false;
  auto it = ctx_.clients_per_uid.find(peer_.uid);
  if (it != ctx_.clients_per_uid.end() && --it->second == 0) ctx_.clients_per_uid.erase(it);
}

void client_connection::start() {
  log::debug("server", "client connected",
             {{"client", std::to_string(id_)}, {"peer", peer_.describe()}});
  counted_uid_ = true;
  if (++ctx_.clients_per_uid[peer_.uid] > ctx_.cfg.socket.max_clients_per_uid) {
    // One app (or a leak in it) must not take the connections every app shares.
    ctx_.requests.rejected_clients.fetch_add(1, std::memory_order_relaxed);
    log::warn("server", "refusing a client over max_clients_per_uid", {{"peer", peer_.describe()}});
    std::string bytes;
    protocol::reply_writer(bytes, protocol_)
        .error("ERR max number of clients for uid " + std::to_string(peer_.uid) +
               " reached (socket.max_clients_per_uid)");
    error_code ignored;
    asio::write(socket_, asio::buffer(bytes), ignored); // a tiny write to a fresh socket
    close();
    return;
  }
  ctx_.pushes.attach(shared_from_this());
  read();
}

bool client_connection::account() {
  auto now = input_.size() + output_.size() + writing_.size();
  ctx_.buffered_bytes = ctx_.buffered_bytes - accounted_ + now;
  accounted_ = now;
  ctx_.requests.buffered_bytes.store(static_cast<std::int64_t>(ctx_.buffered_bytes),
                                     std::memory_order_relaxed);
  return ctx_.buffered_bytes <= ctx_.cfg.socket.max_buffered_bytes;
}

void client_connection::shed() {
  // The largest holder, not the client that happened to cross the line: a few hoarders must
  // not get every well-behaved client closed in their place.
  while (ctx_.buffered_bytes > ctx_.cfg.socket.max_buffered_bytes && ctx_.close_largest_client &&
         ctx_.close_largest_client()) {
  }
}

void client_connection::close_over_budget() {
  if (closed_) return;
  ctx_.requests.buffer_cap_closed.fetch_add(1, std::memory_order_relaxed);
  log::warn("server",
            "closing the client that holds the most while all clients are past "
            "max_buffered_bytes",
            {{"client", std::to_string(id_)},
             {"peer", peer_.describe()},
             {"its_bytes", std::to_string(accounted_)},
             {"all_bytes", std::to_string(ctx_.buffered_bytes)}});
  close();
}

bool client_connection::close_if_stalled(clock::time_point now) {
  if (closed_) return false;
  const auto& cfg = ctx_.cfg.socket;
  if (partial_since_ != clock::time_point{} && now - partial_since_ > cfg.request_timeout) {
    ctx_.requests.slow_clients_closed.fetch_add(1, std::memory_order_relaxed);
    log::info("server", "closing a client whose request did not finish in time",
              {{"client", std::to_string(id_)},
               {"peer", peer_.describe()},
               {"buffered_bytes", std::to_string(input_.size())}});
    close();
    return true;
  }
  bool busy = watching_ > 0 || !slots_.empty() || write_in_flight_ || !output_.empty();
  if (cfg.idle_timeout.count() > 0 && !busy && now - last_activity_ > cfg.idle_timeout) {
    ctx_.requests.idle_clients_closed.fetch_add(1, std::memory_order_relaxed);
    log::debug("server", "closing an idle client", {{"client", std::to_string(id_)}});
    close();
    return true;
  }
  return false;
}

bool client_connection::can_accept_more() const {
  return !closed_ && !close_after_flush_ && slots_.size() < max_pipeline_ &&
         output_.size() + writing_.size() < output_high_water;
}

void client_connection::read() {
  if (read_in_flight_ || !can_accept_more()) return;
  read_in_flight_ = true;
  socket_.async_read_some(asio::buffer(read_buffer_),
                          [self = shared_from_this()](const error_code& ec, std::size_t n) {
                            self->read_in_flight_ = false;
                            self->on_read(ec, n);
                          });
}

void client_connection::on_read(const error_code& ec, std::size_t bytes) {
  if (closed_) return;
  if (ec) {
    close(); // EOF, reset, or a half-sent request from a client that went away: all the same
    return;
  }
  input_.append(read_buffer_.data(), bytes);
  last_activity_ = clock::now();
  if (!account()) shed();
  if (closed_) return;
  process_input();
}

void client_connection::process_input() {
  // Replies completed synchronously call back into here through flush_ready_replies; the
  // outer call owns the input buffer, so a nested one must not touch it.
  if (processing_) return;
  processing_ = true;
  std::size_t offset = 0;
  bool protocol_error = false;
  bool waiting_for_more = false;
  while (can_accept_more() && offset < input_.size()) {
    auto parsed = parser_.parse(input_.data() + offset, input_.size() - offset, args_);
    if (parsed.status == protocol::parse_status::need_more) {
      waiting_for_more = true;
      break;
    }
    if (parsed.status == protocol::parse_status::error) {
      ctx_.requests.protocol_errors.fetch_add(1, std::memory_order_relaxed);
      log::info(
          "server", "closing client after a protocol error",
          {{"client", std::to_string(id_)}, {"peer", peer_.describe()}, {"error", parsed.error}});
      std::string bytes;
      protocol::reply_writer(bytes, protocol_).error(parsed.error);
      slots_.push_back({true, std::move(bytes)});
      ++next_sequence_;
      close_after_flush_ = true;
      protocol_error = true;
      break;
    }
    offset += parsed.consumed;
    if (!args_.empty()) dispatch(args_);
  }
  if (closed_ || protocol_error)
    input_.clear();
  else
    input_.erase(0, offset);
  // The clock of a request in progress starts at its first byte and stops when it is whole.
  if (waiting_for_more)
    partial_since_ =
        offset > 0 || partial_since_ == clock::time_point{} ? clock::now() : partial_since_;
  else
    partial_since_ = {};
  if (!closed_ && !account()) shed();
  processing_ = false;
  if (protocol_error)
    flush_ready_replies();
  else
    read();
}

void client_connection::dispatch(std::vector<std::string>& args) {
  auto arrived = clock::now();
  reply_ticket ticket{next_sequence_++, 0, arrived, protocol_};
  slots_.push_back({});
  ctx_.commands_processed.fetch_add(1, std::memory_order_relaxed);
  route_command(ctx_, *this, args, ticket);
}

void client_connection::fail(const reply_ticket& ticket, const std::string& error_text) {
  std::string bytes;
  protocol::reply_writer(bytes, ticket.protocol).error(error_text);
  complete(ticket, std::move(bytes));
}

void client_connection::fail(const reply_ticket& ticket, protocol::error_code code,
                             std::string_view why) {
  fail(ticket, protocol::error_text(code, why));
}

void client_connection::complete(const reply_ticket& ticket, std::string encoded) {
  auto elapsed = clock::now() - ticket.arrived;
  auto outcome = metrics::result_ok;
  if (!encoded.empty() && encoded[0] == '-')
    outcome = metrics::result_of_error(std::string_view(encoded).substr(1));
  ctx_.requests.record(ticket.family, outcome, elapsed);
  if (closed_ || ticket.sequence < first_sequence_) return;
  auto& s = slots_[ticket.sequence - first_sequence_];
  s.done = true;
  s.bytes = std::move(encoded);
  flush_ready_replies();
}

void client_connection::push(std::string encoded) {
  if (closed_) return;
  if (output_.size() + writing_.size() + encoded.size() > push_output_limit) {
    log::warn("server", "closing a client that does not read its pushes",
              {{"client", std::to_string(id_)},
               {"peer", peer_.describe()},
               {"unsent_bytes", std::to_string(output_.size() + writing_.size())}});
    close();
    return;
  }
  // Between whole replies: output_ only ever holds complete replies and pushes.
  output_ += encoded;
  if (!account()) shed();
  if (closed_) return;
  ctx_.requests.pushes_sent.fetch_add(1, std::memory_order_relaxed);
  write();
}

void client_connection::flush_ready_replies() {
  bool moved = false;
  while (!slots_.empty() && slots_.front().done) {
    output_ += slots_.front().bytes;
    slots_.pop_front();
    ++first_sequence_;
    moved = true;
  }
  if (moved) {
    // Mid-request (processing_), the request's own bytes are still counted and about to go:
    // process_input sheds once they are gone.
    if (!account() && !processing_) shed();
    if (closed_) return;
    write();
  }
  if (close_after_flush_ && slots_.empty() && output_.empty() && !write_in_flight_) {
    close();
    return;
  }
  process_input(); // a freed slot may let buffered requests through
}

void client_connection::write() {
  if (write_in_flight_ || output_.empty() || closed_) return;
  writing_.swap(output_);
  output_.clear();
  write_in_flight_ = true;
  asio::async_write(socket_, asio::buffer(writing_),
                    [self = shared_from_this()](const error_code& ec, std::size_t) {
                      self->write_in_flight_ = false;
                      if (ec) {
                        self->close(); // the client left mid-reply
                        return;
                      }
                      self->writing_.clear();
                      self->account();
                      if (!self->output_.empty())
                        self->write();
                      else if (self->close_after_flush_ && self->slots_.empty())
                        self->close();
                      else
                        self->process_input();
                    });
}

void client_connection::close() {
  if (closed_) return;
  closed_ = true;
  error_code ignored;
  socket_.shutdown(socket_type::shutdown_both, ignored);
  socket_.close(ignored);
  slots_.clear();
  input_.clear();
  output_.clear(); // writing_ may still be on its way out: the write's handler lets it go
  ctx_.buffered_bytes -= accounted_;
  accounted_ = 0;
  ctx_.requests.buffered_bytes.store(static_cast<std::int64_t>(ctx_.buffered_bytes),
                                     std::memory_order_relaxed);
  uncount_uid();
  // What the client held through this connection is given back at once (leases included).
  for (const auto& closed : ctx_.on_client_closed)
    closed(id_);
  log::debug("server", "client disconnected", {{"client", std::to_string(id_)}});
}

} // namespace baton
