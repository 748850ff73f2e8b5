// Blocking RESP client; see resp_client.hpp.
#include "protocol/resp_client.hpp"

#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>

namespace baton::protocol {

std::string resp_value::to_string() const {
  switch (kind) {
  case type::simple:
    return str;
  case type::error:
    return "(error) " + str;
  case type::integer:
    return "(integer) " + std::to_string(integer);
  case type::bulk:
    return "\"" + str + "\"";
  case type::null:
    return "(nil)";
  case type::boolean:
    return integer ? "(true)" : "(false)";
  case type::floating:
    return "(double) " + str;
  default: {
    std::string out = kind == type::map ? "{" : "[";
    for (std::size_t i = 0; i < elements.size(); ++i) {
      if (i > 0) out += kind == type::map && i % 2 == 1 ? ": " : ", ";
      out += elements[i].to_string();
    }
    return out + (kind == type::map ? "}" : "]");
  }
  }
}

resp_client::resp_client(const std::string& address, int timeout_ms) : timeout_ms_(timeout_ms) {
  auto colon = address.rfind(':');
  if (!address.empty() && address[0] != '/' && colon != std::string::npos) {
    addrinfo hints{};
    hints.ai_socktype = SOCK_STREAM;
    addrinfo* result = nullptr;
    auto host = address.substr(0, colon);
    auto port = address.substr(colon + 1);
    if (getaddrinfo(host.c_str(), port.c_str(), &hints, &result) != 0 || result == nullptr)
      throw std::runtime_error("cannot resolve " + address);
    fd_ = ::socket(result->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int rc = fd_ < 0 ? -1 : ::connect(fd_, result->ai_addr, result->ai_addrlen);
    freeaddrinfo(result);
    if (rc != 0) {
      int err = errno;
      if (fd_ >= 0) ::close(fd_);
      throw std::runtime_error("cannot connect to " + address + ": " + std::strerror(err));
    }
    int one = 1;
    setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    return;
  }
  fd_ = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (address.size() >= sizeof(addr.sun_path))
    throw std::runtime_error("socket path too long: " + address);
  std::strncpy(addr.sun_path, address.c_str(), sizeof(addr.sun_path) - 1);
  if (fd_ < 0 || ::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    int err = errno;
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
    throw std::runtime_error("cannot connect to " + address + ": " + std::strerror(err));
  }
}

resp_client::~resp_client() {
  if (fd_ >= 0) ::close(fd_);
}

std::string resp_client::format(const std::vector<std::string>& args) {
  std::string out = "*" + std::to_string(args.size()) + "\r\n";
  for (const auto& a : args) {
    out += "$" + std::to_string(a.size()) + "\r\n";
    out += a;
    out += "\r\n";
  }
  return out;
}

void resp_client::send(const std::vector<std::string>& args) {
  send_raw(format(args));
}

void resp_client::send_raw(std::string_view bytes) {
  std::size_t sent = 0;
  while (sent < bytes.size()) {
    ssize_t n = ::send(fd_, bytes.data() + sent, bytes.size() - sent, MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EINTR) continue;
      throw std::runtime_error(std::string("send failed: ") + std::strerror(errno));
    }
    sent += static_cast<std::size_t>(n);
  }
}

void resp_client::fill() {
  if (position_ > 0 && position_ == buffer_.size()) {
    buffer_.clear();
    position_ = 0;
  }
  pollfd p{fd_, POLLIN, 0};
  int rc = ::poll(&p, 1, timeout_ms_);
  if (rc == 0) throw std::runtime_error("timed out waiting for a reply");
  if (rc < 0 && errno != EINTR)
    throw std::runtime_error(std::string("poll failed: ") + std::strerror(errno));
  char chunk[16384];
  ssize_t n = ::recv(fd_, chunk, sizeof(chunk), 0);
  if (n == 0) throw std::runtime_error("connection closed by peer");
  if (n < 0) {
    if (errno == EINTR || errno == EAGAIN) return;
    throw std::runtime_error(std::string("recv failed: ") + std::strerror(errno));
  }
  buffer_.append(chunk, static_cast<std::size_t>(n));
}

std::string resp_client::read_line() {
  for (;;) {
    auto eol = buffer_.find("\r\n", position_);
    if (eol != std::string::npos) {
      auto line = buffer_.substr(position_, eol - position_);
      position_ = eol + 2;
      return line;
    }
    fill();
  }
}

std::string resp_client::read_exact(std::size_t n) {
  while (buffer_.size() - position_ < n + 2)
    fill();
  auto data = buffer_.substr(position_, n);
  position_ += n + 2;
  return data;
}

resp_value resp_client::read() {
  auto line = read_line();
  if (line.empty()) throw std::runtime_error("empty reply line");
  resp_value v;
  char tag = line[0];
  std::string rest = line.substr(1);
  auto number = [&] { return std::stoll(rest); };
  auto aggregate = [&](resp_value::type t, long long count) {
    v.kind = t;
    for (long long i = 0; i < count; ++i)
      v.elements.push_back(read());
  };
  switch (tag) {
  case '+':
    v.kind = resp_value::type::simple;
    v.str = rest;
    break;
  case '-':
    v.kind = resp_value::type::error;
    v.str = rest;
    break;
  case ':':
    v.kind = resp_value::type::integer;
    v.integer = number();
    break;
  case '_':
    v.kind = resp_value::type::null;
    break;
  case '#':
    v.kind = resp_value::type::boolean;
    v.integer = rest == "t";
    break;
  case ',':
    v.kind = resp_value::type::floating;
    v.str = rest;
    break;
  case '$':
  case '=': {
    auto n = number();
    if (n < 0) {
      v.kind = resp_value::type::null;
    } else {
      v.kind = resp_value::type::bulk;
      v.str = read_exact(static_cast<std::size_t>(n));
    }
    break;
  }
  case '*': {
    auto n = number();
    if (n < 0)
      v.kind = resp_value::type::null;
    else
      aggregate(resp_value::type::array, n);
    break;
  }
  case '%':
    aggregate(resp_value::type::map, 2 * number());
    break;
  case '~':
    aggregate(resp_value::type::set, number());
    break;
  case '>':
    aggregate(resp_value::type::push, number());
    break;
  default:
    throw std::runtime_error("unexpected reply type byte '" + std::string(1, tag) + "'");
  }
  return v;
}

resp_value resp_client::call(const std::vector<std::string>& args) {
  send(args);
  return read();
}

bool resp_client::closed_by_peer() {
  try {
    for (;;)
      fill();
  } catch (const std::runtime_error& e) {
    return std::string(e.what()) == "connection closed by peer" ||
           std::string(e.what()).find("reset") != std::string::npos;
  }
}

} // namespace baton::protocol
