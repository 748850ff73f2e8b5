// One pipelined Redis connection; see redis_connection.hpp.
#include "redis/redis_connection.hpp"

#include <boost/asio/post.hpp>
#include <hiredis/hiredis.h>

#include <algorithm>
#include <charconv>

#include "common/log.hpp"

namespace baton::redis_link {
namespace asio = boost::asio;
using boost::system::error_code;

namespace {

constexpr std::size_t read_chunk = 64 * 1024;

// Replies that mean "Redis is there but cannot serve now": for callers they are
// UNAVAILABLE, and for the breaker they count as failures.
bool is_transient_error(const redis_reply& reply) {
  if (reply.kind != reply_kind::error) return false;
  // READONLY: a replica (a demoted master) refused a write; NOREPLICAS: the master refused it
  // under min-replicas-to-write. Neither ran the call.
  for (const char* prefix :
       {"LOADING", "BUSY", "MASTERDOWN", "TRYAGAIN", "CLUSTERDOWN", "READONLY", "NOREPLICAS"})
    if (reply.str.rfind(prefix, 0) == 0) return true;
  return false;
}

} // namespace

std::string format_command(const std::vector<std::string>& args) {
  // Our own, not hiredis' redisFormatCommandArgv: that one sprintf()s every length and was
  // a fifth of batond's instructions per lease request under callgrind.
  auto append_header = [](std::string& out, char type, std::size_t n) {
    char digits[24];
    auto [end, ec] = std::to_chars(digits, digits + sizeof(digits), n);
    (void)ec;
    out += type;
    out.append(digits, end);
    out += "\r\n";
  };
  std::size_t size = 16;
  for (const auto& a : args)
    size += a.size() + 16;
  std::string out;
  out.reserve(size);
  append_header(out, '*', args.size());
  for (const auto& a : args) {
    append_header(out, '$', a.size());
    out += a;
    out += "\r\n";
  }
  return out;
}

redis_connection::redis_connection(asio::io_context& io, const link_settings& settings,
                                   link_counters& counters, connection_listener& listener,
                                   std::size_t index)
    : io_(io), settings_(settings), counters_(counters), listener_(listener), index_(index),
      endpoint_(settings.endpoint), read_buffer_(read_chunk), deadline_timer_(io),
      reconnect_timer_(io),
      jitter_(static_cast<unsigned>(clock::now().time_since_epoch().count() + index)) {
  transport_ = make_transport(io_, endpoint_, settings_.tls);
}

redis_connection::~redis_connection() {
  if (reader_ != nullptr) redisReaderFree(reader_);
}

void redis_connection::start() {
  started_ = true;
  if (state_ == state::idle && has_target()) connect();
}

bool redis_connection::has_target() const {
  return endpoint_.transport == transport_kind::unix_socket || !endpoint_.host.empty();
}

void redis_connection::retarget(const redis_endpoint& endpoint) {
  if (state_ == state::stopped) return;
  if (endpoint.host == endpoint_.host && endpoint.port == endpoint_.port &&
      endpoint.path == endpoint_.path)
    return;
  auto previous = endpoint_.describe();
  bool had_target = has_target();
  endpoint_ = endpoint;
  retired_transport_ = std::move(transport_);
  transport_ = make_transport(io_, endpoint_, settings_.tls);
  attempt_ = 0; // the new master is expected up: dial it at once, not after the old backoff
  if (state_ != state::idle) {
    // fail() closes the old transport (now retired) and answers the calls in flight.
    retired_transport_->close();
    fail("master moved from " + previous + " to " + endpoint_.describe());
    return;
  }
  retired_transport_->close();
  if (started_ && (!had_target || state_ == state::idle)) {
    ++generation_; // a reconnect timer for the old target is void
    reconnect_timer_.cancel();
    connect();
  }
}

void redis_connection::stop() {
  if (state_ == state::stopped) return;
  stopping_ = true; // a clean stop is not an outage: no warning
  fail("link stopped");
  state_ = state::stopped;
  reconnect_timer_.cancel();
  deadline_timer_.cancel();
}

void redis_connection::connect() {
  if (!has_target()) return; // a Sentinel group not answered yet: retarget() dials
  state_ = state::connecting;
  ++generation_;
  if (reader_ != nullptr) redisReaderFree(reader_);
  reader_ = redisReaderCreate();
  auto self = shared_from_this();
  auto generation = generation_;
  reconnect_timer_.expires_after(settings_.connect_timeout);
  reconnect_timer_.async_wait([this, self, generation](const error_code& ec) {
    if (!ec && generation == generation_ && state_ == state::connecting)
      fail("connect timed out after " + std::to_string(settings_.connect_timeout.count()) + " ms");
  });
  transport_->async_connect([this, self, generation](const error_code& ec) {
    if (generation != generation_ || state_ != state::connecting) return;
    on_connected(ec);
  });
}

void redis_connection::on_connected(const error_code& ec) {
  reconnect_timer_.cancel();
  if (ec) {
    counters_.add(counters_.connect_failures);
    fail("connect failed: " + ec.message());
    return;
  }
  state_ = state::handshaking;
  read();
  handshake();
}

void redis_connection::handshake() {
  // AUTH, SELECT, ROLE, SCRIPT LOAD and CLIENT SETNAME, pipelined; ready when the last one answers
  // OK.
  std::vector<std::vector<std::string>> steps;
  const auto& ep = endpoint_;
  if (!ep.password.empty()) {
    if (ep.username.empty())
      steps.push_back({"AUTH", ep.password});
    else
      steps.push_back({"AUTH", ep.username, ep.password});
  }
  if (ep.database != 0) steps.push_back({"SELECT", std::to_string(ep.database)});
  // A demoted master (or a replica Sentinel named before it was promoted) must not take writes:
  // the connection is refused until the server says it is the master.
  if (settings_.verify_master) steps.push_back({"ROLE"});
  // Scripts are loaded before the connection is ready. A refusal (an ACL without SCRIPT) is
  // not fatal: EVALSHA then falls back to EVAL.
  std::size_t required = steps.size();
  for (const auto& body : settings_.preload_scripts)
    steps.push_back({"SCRIPT", "LOAD", body});
  steps.push_back({"CLIENT", "SETNAME", settings_.client_name});
  auto deadline = clock::now() + settings_.connect_timeout;
  auto generation = generation_;
  for (std::size_t i = 0; i < steps.size(); ++i) {
    bool last = i + 1 == steps.size();
    bool optional = i >= required && !last;
    std::string what = steps[i][0];
    enqueue(
        format_command(steps[i]),
        [this, last, optional, what, generation](redis_reply reply) {
          if (generation != generation_ || state_ != state::handshaking) return;
          if (reply.kind == reply_kind::error && optional) return;
          if (reply.is_error()) {
            fail(what + " failed: " + reply.str);
            return;
          }
          if (what == "ROLE") {
            std::string role = reply.kind == reply_kind::array && !reply.elements.empty()
                                   ? reply.elements[0].str
                                   : "unknown";
            if (role != "master") {
              counters_.add(counters_.wrong_role);
              std::string why = endpoint_.describe() + " is a " + role + ", not the master";
              fail(why);
              listener_.on_wrong_role(index_, why);
              return;
            }
          }
          if (last) {
            state_ = state::ready;
            attempt_ = 0;
            counters_.add(counters_.reconnects);
            counters_.connected.fetch_add(1, std::memory_order_relaxed);
            listener_.on_ready(index_);
          }
        },
        deadline);
  }
}

void redis_connection::send(std::string formatted, reply_callback done,
                            clock::time_point deadline) {
  if (state_ != state::ready) {
    counters_.add(counters_.unavailable);
    done(redis_reply::unavailable("no connection to redis"));
    return;
  }
  counters_.add(counters_.commands);
  enqueue(std::move(formatted), std::move(done), deadline);
}

void redis_connection::enqueue(std::string formatted, reply_callback done,
                               clock::time_point deadline) {
  output_ += formatted;
  pending_.push_back({std::move(done), deadline, clock::now()});
  ++unwritten_;
  arm_deadline_timer_at(std::min(deadline, pending_.front().sent + settings_.dead_connection));
  schedule_flush();
}

void redis_connection::schedule_flush() {
  // Defer the write to the end of this turn of the event loop, so that every request parsed
  // in this turn shares one write (and one Redis round trip).
  if (flush_scheduled_ || write_in_flight_) return;
  flush_scheduled_ = true;
  auto self = shared_from_this();
  auto generation = generation_;
  asio::post(io_, [this, self, generation] {
    flush_scheduled_ = false;
    if (generation == generation_) flush();
  });
}

void redis_connection::flush() {
  if (write_in_flight_ || output_.empty()) return;
  if (state_ != state::ready && state_ != state::handshaking) return;
  writing_.swap(output_);
  output_.clear();
  unwritten_ = 0; // from here on Redis may receive and run them
  write_in_flight_ = true;
  counters_.add(counters_.round_trips);
  auto self = shared_from_this();
  auto generation = generation_;
  transport_->async_write(asio::buffer(writing_),
                          [this, self, generation](const error_code& ec, std::size_t) {
                            if (generation != generation_) return;
                            write_in_flight_ = false;
                            if (ec) {
                              fail("write failed: " + ec.message());
                              return;
                            }
                            writing_.clear();
                            flush();
                          });
}

void redis_connection::read() {
  auto self = shared_from_this();
  auto generation = generation_;
  transport_->async_read_some(asio::buffer(read_buffer_),
                              [this, self, generation](const error_code& ec, std::size_t n) {
                                if (generation != generation_) return;
                                on_read(ec, n);
                              });
}

void redis_connection::on_read(const error_code& ec, std::size_t bytes) {
  if (ec) {
    fail(ec == asio::error::eof ? "redis closed the connection" : "read failed: " + ec.message());
    return;
  }
  if (redisReaderFeed(reader_, read_buffer_.data(), bytes) != REDIS_OK) {
    fail(std::string("bad reply from redis: ") + reader_->errstr);
    return;
  }
  auto generation = generation_;
  for (;;) {
    void* raw = nullptr;
    if (redisReaderGetReply(reader_, &raw) != REDIS_OK) {
      fail(std::string("bad reply from redis: ") + reader_->errstr);
      return;
    }
    if (raw == nullptr) break;
    auto reply = redis_reply::from_hiredis(*static_cast<redisReply*>(raw));
    freeReplyObject(raw);
    deliver(std::move(reply));
    if (generation != generation_) // a callback failed or stopped the connection
      return;
  }
  read();
}

void redis_connection::deliver(redis_reply reply) {
  if (pending_.empty()) {
    fail("reply from redis without a request");
    return;
  }
  auto call = std::move(pending_.front());
  pending_.pop_front();
  counters_.observe_round_trip(clock::now() - call.sent);
  if (reply.kind == reply_kind::error && reply.str.rfind("READONLY", 0) == 0) {
    // The server was demoted under us. The call did not run; the connection stays, and the
    // pool asks where the master is now (a retarget then moves every connection).
    counters_.add(counters_.wrong_role);
    listener_.on_wrong_role(index_, endpoint_.describe() + " answered " + reply.str);
  }
  if (settings_.cluster_node && reply.kind == reply_kind::error &&
      (reply.str.rfind("TRYAGAIN", 0) == 0 || reply.str.rfind("CLUSTERDOWN", 0) == 0 ||
       reply.str.rfind("MOVED", 0) == 0 || reply.str.rfind("ASK", 0) == 0)) {
    // The cluster's own answers about where and when: redis_pool follows or retries them. The
    // server did answer, so the breaker hears a success.
    listener_.on_success();
  } else if (is_transient_error(reply)) {
    listener_.on_failure();
    reply = redis_reply::unavailable("redis cannot serve now: " + reply.str);
    counters_.add(counters_.unavailable);
  } else {
    listener_.on_success();
    if (reply.kind == reply_kind::error) counters_.add(counters_.errors);
  }
  if (call.done) call.done(std::move(reply));
}

void redis_connection::arm_deadline_timer() {
  // A full scan: only from on_deadline, once per wake-up. Wake at the earliest budget still
  // running, or when the oldest call makes the connection count as dead.
  if (pending_.empty()) return;
  auto wake = pending_.front().sent + settings_.dead_connection;
  for (const auto& call : pending_)
    if (call.done && call.deadline < wake) wake = call.deadline;
  arm_deadline_timer_at(wake);
}

void redis_connection::arm_deadline_timer_at(clock::time_point wake) {
  // Only ever pulls the wake-up earlier, so that a new call costs O(1) however many are in
  // flight. (During the handshake the timer is armed for the longer connect timeout; the
  // first call after it pulls the wake-up forward.)
  if (timer_armed_ && timer_wake_ <= wake) return;
  timer_armed_ = true;
  timer_wake_ = wake;
  auto sequence = ++timer_sequence_;
  deadline_timer_.expires_at(wake);
  auto self = shared_from_this();
  deadline_timer_.async_wait([this, self, sequence](const error_code& ec) {
    if (sequence != timer_sequence_)
      return; // re-armed or disarmed since; a newer wait owns the timer
    timer_armed_ = false;
    if (!ec) on_deadline();
  });
}

void redis_connection::on_deadline() {
  if (state_ == state::stopped || pending_.empty()) return;
  auto now = clock::now();
  if (pending_.front().sent + settings_.dead_connection <= now) {
    fail("no reply from redis for " + std::to_string(settings_.dead_connection.count()) + " ms");
    return;
  }
  // Taken out first, answered after: an answer may send the next call at once (the abandon of
  // a grant that came too late goes on this very connection), and a send while iterating
  // pending_ invalidated the loop (the chaos harness's slow network crashed a daemon so).
  std::vector<reply_callback> expired;
  for (auto& call : pending_) {
    if (call.done && call.deadline <= now) {
      expired.push_back(std::move(call.done));
      call.done = nullptr;
    }
  }
  auto generation = generation_;
  for (auto& done : expired) {
    counters_.add(counters_.timeouts);
    counters_.add(counters_.unavailable);
    listener_.on_failure();
    // Sent, or still to be written: either way Redis may run it after this answer.
    done(redis_reply::unanswered("redis did not answer within the time budget"));
  }
  if (generation == generation_ && state_ != state::stopped) arm_deadline_timer();
}

void redis_connection::fail(const std::string& reason) {
  if (state_ == state::stopped) return;
  bool was_ready = state_ == state::ready;
  if (was_ready) counters_.connected.fetch_sub(1, std::memory_order_relaxed);
  state_ = state::idle;
  ++generation_;
  transport_->close();
  timer_armed_ = false;
  ++timer_sequence_;
  deadline_timer_.cancel();
  output_.clear();
  write_in_flight_ = false;
  auto orphans = std::move(pending_);
  pending_.clear();
  // The newest `unwritten_` calls never left (their bytes were in output_): certainly not run.
  // The others were written, perhaps in part: Redis may have run them.
  auto written = orphans.size() - std::min(unwritten_, orphans.size());
  unwritten_ = 0;
  // One warning per outage, not one per reconnect attempt: while Redis stays away the
  // repeats go to debug (the metrics count them all).
  // A planned move (Sentinel named another master) is news, not a warning.
  bool planned = reason.rfind("master moved", 0) == 0;
  auto level = !stopping_ && (was_ready || attempt_ == 0)
                   ? (planned ? log::level::info : log::level::warning)
                   : log::level::debug;
  if (log::enabled(level))
    log::write(level, "redis", "connection down",
               {{"connection", std::to_string(index_)},
                {"reason", reason},
                {"endpoint", endpoint_.describe()},
                {"attempt", std::to_string(attempt_)}});
  listener_.on_down(index_, reason);
  for (std::size_t i = 0; i < orphans.size(); ++i) {
    auto& call = orphans[i];
    if (call.done) {
      counters_.add(counters_.unavailable);
      call.done(i < written ? redis_reply::unanswered(reason) : redis_reply::unavailable(reason));
    }
  }
  schedule_reconnect();
}

void redis_connection::schedule_reconnect() {
  if (state_ != state::idle) return;
  // Exponential backoff with "equal jitter": half the step fixed, half random, so that a
  // fleet restarting together does not dial Redis in lockstep, and never with zero delay.
  auto step = std::min<long long>(settings_.reconnect_max.count(), settings_.reconnect_min.count()
                                                                       << std::min(attempt_, 16u));
  ++attempt_;
  std::uniform_int_distribution<long long> half(0, std::max<long long>(step / 2, 1));
  auto delay = milliseconds(step / 2 + half(jitter_));
  auto self = shared_from_this();
  auto generation = generation_;
  reconnect_timer_.expires_after(delay);
  reconnect_timer_.async_wait([this, self, generation](const error_code& ec) {
    if (!ec && generation == generation_ && state_ == state::idle) connect();
  });
}

} // namespace baton::redis_link
