// batond under a service manager: the sd_notify protocol spoken to a real NOTIFY_SOCKET
// (READY, WATCHDOG, STOPPING), the client limit, and JSON log lines.
#include <catch2/catch.hpp>

#include <nlohmann/json.hpp>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>
#include <fstream>
#include <sstream>

#include "protocol/resp_client.hpp"
#include "tests/support/test_batond.hpp"

using namespace baton;

namespace {

// A datagram socket standing in for systemd's notification socket.
class notify_socket {
public:
  explicit notify_socket(const std::string& path) : path_(path) {
    fd_ = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::strncpy(addr.sun_path, path.c_str(), sizeof(addr.sun_path) - 1);
    REQUIRE(::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0);
  }
  ~notify_socket() { ::close(fd_); }

  /// Collects datagrams until one contains `text` or `timeout_ms` passes.
  bool wait_for(const std::string& text, int timeout_ms = 3000) {
    auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
    while (std::chrono::steady_clock::now() < until) {
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, 50) <= 0) continue;
      char buffer[4096];
      auto n = ::recv(fd_, buffer, sizeof(buffer), 0);
      if (n > 0 && std::string(buffer, static_cast<std::size_t>(n)).find(text) != std::string::npos)
        return true;
    }
    return false;
  }

private:
  std::string path_;
  int fd_;
};

} // namespace

TEST_CASE("sd_notify: READY once serving, WATCHDOG while alive, STOPPING on SIGTERM") {
  test::test_redis redis;
  test::temp_dir dir;
  notify_socket systemd(dir.file("notify.sock"));
  ::setenv("NOTIFY_SOCKET", dir.file("notify.sock").c_str(), 1);
  ::setenv("WATCHDOG_USEC", "200000", 1);
  test::test_batond daemon(redis.unix_url());
  ::unsetenv("NOTIFY_SOCKET");
  ::unsetenv("WATCHDOG_USEC");
  CHECK(systemd.wait_for("READY=1"));
  CHECK(systemd.wait_for("WATCHDOG=1", 1000));
  CHECK(systemd.wait_for("WATCHDOG=1", 1000)); // and again: it is periodic
  daemon.signal(SIGTERM);
  CHECK(systemd.wait_for("STOPPING=1"));
  CHECK(daemon.wait_exit() == 0);
}

TEST_CASE("connections past max_clients get an error and are closed") {
  test::test_redis redis;
  test::temp_dir dir;
  std::ofstream(dir.file("b.yaml")) << "socket: {max_clients: 2}\n";
  test::test_batond daemon(redis.unix_url(), {"--config", dir.file("b.yaml")});
  protocol::resp_client first(daemon.socket_path());
  protocol::resp_client second(daemon.socket_path());
  REQUIRE(first.call({"PING"}).str == "PONG");
  REQUIRE(second.call({"PING"}).str == "PONG");
  protocol::resp_client third(daemon.socket_path());
  auto refusal = third.read();
  CHECK(refusal.str == "ERR max number of clients reached");
  CHECK(third.closed_by_peer());
  CHECK(first.call({"PING"}).str == "PONG");
}

TEST_CASE("log.format json writes one JSON object per line") {
  test::test_redis redis;
  test::temp_dir dir;
  std::ofstream(dir.file("b.yaml")) << "log: {format: json, level: debug}\n";
  test::test_batond daemon(redis.unix_url(), {"--config", dir.file("b.yaml"), "--node-id", "j1"});
  protocol::resp_client(daemon.socket_path()).call({"PING"});
  daemon.stop();
  std::istringstream lines(daemon.log());
  std::string line;
  int parsed = 0;
  bool saw_start = false;
  while (std::getline(lines, line)) {
    auto record = nlohmann::json::parse(line); // throws, failing the test, if not JSON
    CHECK(record.contains("ts"));
    CHECK(record.contains("level"));
    if (record["msg"] == "started") saw_start = record["node"] == "j1";
    ++parsed;
  }
  CHECK(parsed >= 4);
  CHECK(saw_start);
}
