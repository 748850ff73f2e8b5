// The epoll load generator; see load_generator.hpp.
#include "bench/load_generator.hpp"

#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <deque>
#include <stdexcept>

#include "protocol/resp_client.hpp"

namespace baton::bench {
namespace {

using clock = std::chrono::steady_clock;

// Length of the first complete RESP reply in [p, end), 0 if incomplete. Sets `error`
// when that reply is an error.
std::size_t reply_length(const char* begin, const char* end, bool& error) {
  const char* p = begin;
  std::size_t pending = 1;
  bool first = true;
  while (pending > 0) {
    const char* eol = static_cast<const char*>(memchr(p, '\n', static_cast<std::size_t>(end - p)));
    if (p >= end || eol == nullptr) return 0;
    char type = *p;
    if (first) {
      error = type == '-';
      first = false;
    }
    long long n = std::atoll(p + 1);
    p = eol + 1;
    --pending;
    switch (type) {
    case '$':
    case '=':
      if (n >= 0) {
        if (end - p < n + 2) return 0;
        p += n + 2;
      }
      break;
    case '*':
    case '~':
    case '>':
      if (n > 0) pending += static_cast<std::size_t>(n);
      break;
    case '%':
      pending += static_cast<std::size_t>(2 * n);
      break;
    default:
      break;
    }
  }
  return static_cast<std::size_t>(p - begin);
}

struct connection {
  int fd = -1;
  std::string input;
  std::deque<clock::time_point> sent;
};

} // namespace

double load_result::percentile(double p) const {
  if (latencies_us.empty()) return 0;
  auto index = static_cast<std::size_t>(std::ceil(p * latencies_us.size())) - 1;
  return latencies_us[std::min(index, latencies_us.size() - 1)];
}

load_result run_load(const load_spec& spec) {
  auto request = protocol::resp_client::format(spec.command);
  std::vector<connection> conns(spec.connections);
  int ep = epoll_create1(EPOLL_CLOEXEC);
  for (std::size_t i = 0; i < conns.size(); ++i) {
    if (!spec.setup.empty()) {
      protocol::resp_client setup(spec.socket_path);
      setup.call(spec.setup);
    }
    int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::strncpy(addr.sun_path, spec.socket_path.c_str(), sizeof(addr.sun_path) - 1);
    if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0)
      throw std::runtime_error("cannot connect to " + spec.socket_path);
    conns[i].fd = fd;
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.u64 = i;
    epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
  }
  load_result result;
  result.label = spec.label;
  result.latencies_us.reserve(1 << 20);
  auto start = clock::now();
  auto measure_from = start + spec.warmup;
  auto stop = measure_from + spec.duration;
  auto send_batch = [&](connection& c, std::size_t n, const std::vector<std::string>& replies) {
    std::string batch;
    for (std::size_t k = 0; k < n; ++k) {
      if (spec.next)
        batch += protocol::resp_client::format(spec.next(
            static_cast<std::size_t>(&c - conns.data()), k < replies.size() ? replies[k] : ""));
      else
        batch += request;
    }
    auto now = clock::now();
    for (std::size_t k = 0; k < n; ++k)
      c.sent.push_back(now);
    (void)!::send(c.fd, batch.data(), batch.size(), MSG_NOSIGNAL);
  };
  for (auto& c : conns)
    send_batch(c, spec.depth, {});
  std::vector<epoll_event> events(conns.size());
  char buffer[65536];
  bool stopping = false;
  std::size_t outstanding = conns.size() * spec.depth;
  while (outstanding > 0) {
    int n = epoll_wait(ep, events.data(), static_cast<int>(events.size()), 1000);
    if (n <= 0) break; // a server that stops answering ends the run; counted replies stand
    auto now = clock::now();
    if (now >= stop) stopping = true;
    for (int e = 0; e < n; ++e) {
      auto& c = conns[events[e].data.u64];
      ssize_t got = ::recv(c.fd, buffer, sizeof(buffer), 0);
      if (got <= 0) throw std::runtime_error("server closed a benchmark connection");
      c.input.append(buffer, static_cast<std::size_t>(got));
      std::size_t offset = 0, completed = 0;
      std::vector<std::string> replies;
      for (;;) {
        bool error = false;
        auto length = reply_length(c.input.data() + offset, c.input.data() + c.input.size(), error);
        if (length == 0) break;
        if (spec.next) replies.emplace_back(c.input.data() + offset, length);
        offset += length;
        auto sent = c.sent.front();
        c.sent.pop_front();
        --outstanding;
        ++completed;
        if (sent >= measure_from && now <= stop) {
          ++result.replies;
          result.errors += error ? 1 : 0;
          result.latencies_us.push_back(
              std::chrono::duration<double, std::micro>(now - sent).count());
        }
      }
      c.input.erase(0, offset);
      if (!stopping && completed > 0) {
        send_batch(c, completed, replies);
        outstanding += completed;
      }
    }
  }
  result.seconds =
      std::chrono::duration<double>(std::min(clock::now(), stop) - measure_from).count();
  for (auto& c : conns)
    ::close(c.fd);
  ::close(ep);
  std::sort(result.latencies_us.begin(), result.latencies_us.end());
  return result;
}

} // namespace baton::bench
