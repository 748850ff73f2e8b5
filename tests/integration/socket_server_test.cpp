// The local API socket of a real batond against a real redis-server: commands, RESP3,
// pipelining, backpressure and hostile input.
#include <catch2/catch.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <random>
#include <sstream>
#include <thread>

#include "protocol/resp_client.hpp"
#include "tests/support/test_batond.hpp"

using namespace baton;
using protocol::resp_client;
using protocol::resp_value;
using namespace std::chrono_literals;

namespace {
struct fixture {
  test::test_redis redis;
  test::test_batond daemon{redis.unix_url()};
  bool alive() {
    try {
      resp_client c(daemon.socket_path(), 2000);
      return c.call({"PING"}).str == "PONG";
    } catch (...) {
      return false;
    }
  }
};
} // namespace

TEST_CASE_METHOD(fixture, "connection commands answer like Redis") {
  resp_client c(daemon.socket_path());
  CHECK(c.call({"PING"}).str == "PONG");
  CHECK(c.call({"PING", "hi"}).str == "hi");
  CHECK(c.call({"ECHO", std::string("bin\0ary", 7)}).str == std::string("bin\0ary", 7));
  CHECK(c.call({"CLIENT", "GETNAME"}).kind == resp_value::type::null);
  CHECK(c.call({"CLIENT", "SETNAME", "worker-1"}).str == "OK");
  CHECK(c.call({"client", "getname"}).str == "worker-1");
  CHECK(c.call({"CLIENT", "SETNAME", "bad name"}).is_error());
  CHECK(c.call({"CLIENT", "ID"}).integer > 0);
  auto info = c.call({"CLIENT", "INFO"}).str;
  CHECK(info.find("uid=" + std::to_string(getuid())) != std::string::npos);
  CHECK(info.find("pid=" + std::to_string(getpid())) != std::string::npos);
  CHECK(c.call({"COMMAND", "COUNT"}).integer == 21); // names: STATE, CACHE, EVENTS one each
  CHECK(c.call({"COMMAND"}).elements.size() == 21);
  CHECK(c.call({"COMMAND", "INFO", "ping", "nope"}).elements[1].kind == resp_value::type::null);
  auto all = c.call({"INFO"}).str;
  CHECK(all.find("# Server") != std::string::npos);
  CHECK(all.find("redis_reachable:1") != std::string::npos);
  CHECK(c.call({"INFO", "clients"}).str.find("# Server") == std::string::npos);
}

TEST_CASE_METHOD(fixture,
                 "unknown commands and wrong arity are errors, and the connection lives on") {
  resp_client c(daemon.socket_path());
  auto unknown = c.call({"FLY", "away"});
  REQUIRE(unknown.is_error());
  CHECK(unknown.str.rfind("ERR unknown command 'FLY'", 0) == 0);
  CHECK(c.call({"ECHO"}).str == "ERR wrong number of arguments for 'echo' command");
  CHECK(c.call({"CLIENT", "FLY"}).str.rfind("ERR unknown subcommand", 0) == 0);
  CHECK(c.call({"HELLO", "4"}).str.rfind("NOPROTO", 0) == 0);
  CHECK(c.call({"PING"}).str == "PONG");
}

TEST_CASE_METHOD(fixture, "HELLO 3 switches to RESP3 and answers with a map") {
  resp_client c(daemon.socket_path());
  auto hello2 = c.call({"HELLO"});
  CHECK(hello2.kind == resp_value::type::array);
  auto hello3 = c.call({"HELLO", "3", "SETNAME", "r3"});
  REQUIRE(hello3.kind == resp_value::type::map);
  CHECK(hello3.elements[0].str == "server");
  CHECK(hello3.elements[1].str == "baton");
  CHECK(hello3.elements[5].integer == 3);
  CHECK(c.call({"CLIENT", "GETNAME"}).str == "r3");
  CHECK(c.call({"CLIENT", "GETNAME", "x"}).is_error());
  auto rtt = c.call({"DEBUG", "RTT"});
  CHECK(rtt.kind == resp_value::type::map);
  resp_client fresh(daemon.socket_path());
  CHECK(fresh.call({"CLIENT", "GETNAME"}).kind == resp_value::type::null);
}

TEST_CASE_METHOD(fixture, "replies to a deep pipeline come back complete and in order") {
  resp_client c(daemon.socket_path());
  std::string batch;
  const int n = 5000;
  for (int i = 0; i < n; ++i)
    batch += resp_client::format(i % 10 == 0 ? std::vector<std::string>{"DEBUG", "RTT"}
                                             : std::vector<std::string>{"ECHO", std::to_string(i)});
  c.send_raw(batch);
  for (int i = 0; i < n; ++i) {
    auto reply = c.read();
    if (i % 10 == 0)
      REQUIRE(reply.kind == resp_value::type::array);
    else
      REQUIRE(reply.str == std::to_string(i));
  }
}

TEST_CASE_METHOD(fixture,
                 "a client that does not read its replies is held back, not buffered forever") {
  resp_client c(daemon.socket_path());
  int one = 4096;
  setsockopt(c.fd(), SOL_SOCKET, SO_RCVBUF, &one, sizeof(one));
  std::string value(64 * 1024, 'x');
  auto request = resp_client::format({"ECHO", value});
  // Send until the kernel buffers fill up because batond stopped reading from us.
  int sent = 0;
  timeval tv{0, 200000};
  setsockopt(c.fd(), SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
  for (; sent < 10000; ++sent) {
    if (::send(c.fd(), request.data(), request.size(), MSG_NOSIGNAL) !=
        static_cast<ssize_t>(request.size()))
      break;
  }
  CHECK(sent < 10000); // backpressure reached us
  CHECK(alive());      // and others are still served
  std::string metrics;
  REQUIRE(test::http_get(daemon.http_port(), "/metrics", &metrics) == 200);
  auto rss_line = metrics.find("\nprocess_resident_memory_bytes ");
  REQUIRE(rss_line != std::string::npos);
  auto rss = std::stod(metrics.substr(rss_line + 31));
  CHECK(rss < 200.0 * 1024 * 1024);
}

TEST_CASE_METHOD(fixture, "malformed input gets one error and a closed connection") {
  for (std::string garbage :
       {"*abc\r\n", "*1\r\n:5\r\n", "*1\r\n$-9\r\n", "*1\r\n$3\r\nabcdef\r\n"}) {
    resp_client c(daemon.socket_path());
    c.send_raw(garbage);
    auto reply = c.read();
    CHECK(reply.is_error());
    CHECK(reply.str.rfind("ERR Protocol error", 0) == 0);
    CHECK(c.closed_by_peer());
  }
  CHECK(alive());
}

TEST_CASE_METHOD(fixture, "requests over the limits are refused before they are buffered") {
  resp_client big(daemon.socket_path());
  big.send_raw("*1\r\n$999999999\r\n");
  CHECK(big.read().str.find("larger than the limit") != std::string::npos);
  resp_client many(daemon.socket_path());
  many.send_raw("*100000\r\n");
  CHECK(many.read().str.find("too many arguments") != std::string::npos);
  CHECK(alive());
}

TEST_CASE_METHOD(fixture,
                 "random bytes, half-sent frames and vanishing clients leave batond healthy") {
  std::mt19937 rng(7);
  for (int round = 0; round < 200; ++round) {
    resp_client c(daemon.socket_path());
    std::string bytes(1 + rng() % 512, '\0');
    for (auto& b : bytes)
      b = static_cast<char>(rng());
    if (round % 3 == 0) bytes = "*3\r\n$4\r\nECHO\r\n$100\r\nonly-part"; // half a frame, then gone
    c.send_raw(bytes);
  }
  for (int round = 0; round < 50; ++round) {
    // Ask for a big reply and disconnect before reading it.
    resp_client c(daemon.socket_path());
    c.send({"ECHO", std::string(1 << 20, 'y')});
    c.send({"DEBUG", "RTT"});
  }
  REQUIRE(alive());
  resp_client c(daemon.socket_path());
  CHECK(test::eventually([&] {
    auto info = c.call({"INFO", "clients"}).str;
    return info.find("connected_clients:1\r") != std::string::npos;
  }));
}

TEST_CASE_METHOD(fixture, "QUIT answers OK and closes") {
  resp_client c(daemon.socket_path());
  CHECK(c.call({"QUIT"}).str == "OK");
  CHECK(c.closed_by_peer());
}

TEST_CASE("the socket gets the configured mode") {
  test::test_redis redis;
  test::temp_dir dir;
  std::ofstream(dir.file("b.yaml")) << "socket: {mode: \"0600\"}\n";
  test::test_batond daemon(redis.unix_url(), {"--config", dir.file("b.yaml")});
  struct stat info {};
  REQUIRE(::stat(daemon.socket_path().c_str(), &info) == 0);
  CHECK((info.st_mode & 0777) == 0600);
}

TEST_CASE("the socket's directory must be the daemon's and closed to others") {
  test::test_redis redis;
  test::temp_dir dir;
  auto refused = [&](const std::string& socket_dir, const std::string& expected) {
    std::string output;
    // `timeout`: a daemon that wrongly starts must fail the test, not hang it.
    int code = test::run_command(
        std::string("timeout 20 ") + BATOND_PATH + " --redis " + redis.unix_url() + " --socket " +
            socket_dir + "/baton.sock --http 127.0.0.1:" + std::to_string(test::free_port()),
        &output);
    INFO(output);
    CHECK(code != 0);
    CHECK(output.find(expected) != std::string::npos);
    CHECK(::access((socket_dir + "/baton.sock").c_str(), F_OK) != 0); // nothing was bound
  };
  // Writable by others without the sticky bit: they could swap the socket for their own.
  auto open_dir = dir.file("open");
  REQUIRE(::mkdir(open_dir.c_str(), 0700) == 0);
  REQUIRE(::chmod(open_dir.c_str(), 0777) == 0);
  refused(open_dir, "is writable by others and not sticky");
  // A symlink where the directory should be.
  auto real_dir = dir.file("real");
  REQUIRE(::mkdir(real_dir.c_str(), 0700) == 0);
  REQUIRE(::symlink(real_dir.c_str(), dir.file("link").c_str()) == 0);
  refused(dir.file("link"), "is a symlink");
  // Sticky and world-writable (like /tmp) is fine: others cannot remove what is ours.
  auto sticky = dir.file("sticky");
  REQUIRE(::mkdir(sticky.c_str(), 0700) == 0);
  REQUIRE(::chmod(sticky.c_str(), 01777) == 0);
  test::test_batond ok(redis.unix_url(), {"--socket", sticky + "/baton.sock"});
  CHECK(resp_client(ok.socket_path()).call({"PING"}).str == "PONG");
}

TEST_CASE("a socket with a group is born owner-only and opened to the group once it is its") {
  test::test_redis redis;
  test::temp_dir dir;
  // The group is root's own here (gid 0), so the test needs no users; the mode is what counts.
  std::ofstream(dir.file("g.yaml")) << "socket: {mode: \"0660\", group: root}\n";
  test::test_batond daemon(redis.unix_url(), {"--config", dir.file("g.yaml")});
  struct stat info {};
  REQUIRE(::lstat(daemon.socket_path().c_str(), &info) == 0);
  CHECK(S_ISSOCK(info.st_mode));
  CHECK((info.st_mode & 0777) == 0660);
  CHECK(info.st_gid == 0);
}

namespace {

// A daemon with a config of its own (caps set low enough to reach in a test).
struct configured {
  test::test_redis redis;
  test::temp_dir dir;
  std::unique_ptr<test::test_batond> daemon;
  explicit configured(const std::string& yaml) {
    std::ofstream(dir.file("c.yaml")) << yaml;
    daemon = std::make_unique<test::test_batond>(
        redis.unix_url(), std::vector<std::string>{"--config", dir.file("c.yaml")});
  }
  std::string metrics() {
    std::string body;
    test::http_get(daemon->http_port(), "/metrics", &body);
    return body;
  }
};

// A TCP connection to the daemon's HTTP port that sends nothing; -1 if it cannot connect.
int connect_http(unsigned short port) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

// True when the peer closes the connection within the timeout.
bool closed_within(int fd, int timeout_ms) {
  pollfd p{fd, POLLIN, 0};
  if (::poll(&p, 1, timeout_ms) <= 0) return false;
  char byte = 0;
  return ::recv(fd, &byte, 1, 0) == 0;
}

// The config that sets these `socket` keys only.
std::string socket_keys(const std::string& keys) {
  return "socket: {" + keys + "}\n";
}

} // namespace

TEST_CASE("a request trickled past request_timeout_ms is cut off, others are served") {
  configured t(socket_keys("request_timeout_ms: 1000"));
  resp_client slow(t.daemon->socket_path()), good(t.daemon->socket_path());
  slow.send_raw("*2\r\n$4\r\nECHO\r\n$10\r\nhel"); // and then a byte now and then
  for (int i = 0; i < 2; ++i) {                    // 400 ms: still within its time
    std::this_thread::sleep_for(200ms);
    slow.send_raw("l");
    CHECK(good.call({"PING"}).str == "PONG");
  }
  // Its request began long ago: the daemon closes it at its next sweep (once a second).
  CHECK(test::eventually([&] { return slow.closed_by_peer(); }, 5000));
  CHECK(t.metrics().find("baton_slow_clients_closed_total 1") != std::string::npos);
  // A client that finishes its requests in time, however many, is never cut off.
  for (int i = 0; i < 20; ++i) {
    good.send_raw("*1\r\n$4\r\n");
    std::this_thread::sleep_for(50ms);
    good.send_raw("PING\r\n");
    CHECK(good.read().str == "PONG");
  }
}

TEST_CASE("an idle client is closed after idle_timeout_ms, a watcher is not") {
  configured t(socket_keys("idle_timeout_ms: 300"));
  resp_client idle(t.daemon->socket_path()), watcher(t.daemon->socket_path());
  REQUIRE(watcher.call({"LEASE", "WATCH", "x"}).integer == 1);
  CHECK(test::eventually([&] { return idle.closed_by_peer(); }, 5000));
  std::this_thread::sleep_for(1500ms);
  CHECK(watcher.call({"PING"}).elements.at(0).str == "pong"); // RESP2 watch mode's PING
}

TEST_CASE("one uid cannot take every connection: max_clients_per_uid") {
  configured t(socket_keys("max_clients_per_uid: 3"));
  std::vector<std::unique_ptr<resp_client>> mine;
  mine.push_back(std::make_unique<resp_client>(t.daemon->socket_path()));
  // The start-up check's connection is gone once this one is the only client.
  REQUIRE(test::eventually([&] {
    return mine[0]->call({"INFO", "clients"}).str.find("connected_clients:1\r") !=
           std::string::npos;
  }));
  for (int i = 1; i < 3; ++i) {
    mine.push_back(std::make_unique<resp_client>(t.daemon->socket_path()));
    CHECK(mine.back()->call({"PING"}).str == "PONG");
  }
  resp_client fourth(t.daemon->socket_path());
  CHECK(fourth.read().str == "ERR max number of clients for uid 0 reached "
                             "(socket.max_clients_per_uid)");
  CHECK(fourth.closed_by_peer());
  mine.pop_back(); // one leaves: another may come
  CHECK(test::eventually([&] {
    resp_client again(t.daemon->socket_path());
    return again.call({"PING"}).str == "PONG";
  }));
}

TEST_CASE("clients' buffers together are capped: the client holding the most is closed") {
  configured t(socket_keys("max_buffered_bytes: 1048576"));
  resp_client good(t.daemon->socket_path());
  resp_client hoarder(t.daemon->socket_path()), modest(t.daemon->socket_path());
  auto send = [](resp_client& c, const std::string& bytes) {
    try {
      c.send_raw(bytes);
    } catch (const std::exception&) {
      // closed by the daemon while sending: what the checks below look at
    }
  };
  // The hoarder holds 900 KB of a request it never finishes; the modest client's 200 KB of a
  // request it will finish takes all clients past 1 MiB. The hoarder goes, not the modest one.
  send(hoarder, "*2\r\n$4\r\nECHO\r\n$1048576\r\n" + std::string(900000, 'h'));
  // Once the daemon has read it all (the gauge shows what clients hold).
  CHECK(test::eventually([&] {
    auto m = t.metrics();
    auto at = m.find("\nbaton_buffered_bytes ");
    return at != std::string::npos && std::stoll(m.substr(at + 22)) >= 900000;
  }));
  send(modest, "*2\r\n$4\r\nECHO\r\n$614400\r\n" + std::string(200000, 'm'));
  CHECK(test::eventually([&] { return hoarder.closed_by_peer(); }, 5000));
  CHECK(good.call({"PING"}).str == "PONG");
  CHECK(t.metrics().find("baton_buffer_cap_closed_total 1") != std::string::npos);
  send(modest, std::string(414400, 'm') + "\r\n");
  CHECK(modest.read().str.size() == 614400);
}

TEST_CASE("one uid cannot watch everything: max_watches_per_uid") {
  configured t("socket: {max_watches_per_uid: 3}\n");
  resp_client a(t.daemon->socket_path()), b(t.daemon->socket_path()), c(t.daemon->socket_path());
  CHECK(a.call({"LEASE", "WATCH", "x", "y"}).integer == 2);
  // Counted over all connections of the uid: b's two more would make four.
  auto refused = b.call({"LEASE", "WATCH", "z", "w"});
  CHECK(refused.str == "ERR max number of watched names for this uid reached "
                       "(socket.max_watches_per_uid = 3); UNWATCH some first");
  CHECK(b.call({"LEASE", "WATCH", "z"}).integer == 1);
  CHECK(a.call({"LEASE", "WATCH", "x"}).integer == 2); // watched already: takes no room
  CHECK(c.call({"SUBSCRIBE", "lease:q"}).is_error());  // pub/sub style counts the same
  auto m = t.metrics();
  CHECK(m.find("baton_watches_refused_total 2\n") != std::string::npos);
  CHECK(m.find("baton_watches 3\n") != std::string::npos);
  // What a connection watched is given back when it closes.
  CHECK(a.call({"LEASE", "UNWATCH", "x"}).integer == 1);
  auto subscribed = c.call({"SUBSCRIBE", "lease:q"});
  REQUIRE(subscribed.elements.size() == 3);
  CHECK(subscribed.elements.at(2).integer == 1);
}

TEST_CASE("WATCHes still following their names through Redis count against the uid's cap") {
  configured t("socket: {max_watches_per_uid: 3}\n");
  resp_client a(t.daemon->socket_path()), b(t.daemon->socket_path());
  // a's WATCH waits for Redis (stopped) to subscribe and read its names...
  t.redis.pause();
  a.send({"LEASE", "WATCH", "x", "y"});
  std::this_thread::sleep_for(100ms);
  // ... and holds their room meanwhile: b's two more would make four.
  auto refused = b.call({"LEASE", "WATCH", "z", "w"});
  t.redis.resume();
  CHECK(refused.str.rfind("ERR max number of watched names for this uid reached", 0) == 0);
  CHECK(a.read().integer == 2);
  CHECK(b.call({"LEASE", "WATCH", "z"}).integer == 1);
}

TEST_CASE("http: past max_connections with none idle, a new connection is closed at once") {
  configured t("http: {max_connections: 2}\n");
  auto port = t.daemon->http_port();
  int first = connect_http(port), second = connect_http(port);
  REQUIRE(first >= 0);
  REQUIRE(second >= 0);
  // Both are in the middle of a request: neither may be closed to make room.
  for (int fd : {first, second})
    REQUIRE(::send(fd, "GET /metrics HTTP/1.1\r\n", 23, MSG_NOSIGNAL) == 23);
  CHECK_FALSE(closed_within(first, 300));
  int third = connect_http(port);
  REQUIRE(third >= 0); // the kernel accepts it; the daemon closes it at once
  CHECK(closed_within(third, 2000));
  ::close(third);
  ::close(first); // one leaves: the next scrape is served
  std::string body;
  CHECK(test::eventually([&] { return test::http_get(port, "/metrics", &body) == 200; }));
  CHECK(body.find("baton_http_rejected_connections_total 0") == std::string::npos);
  CHECK(body.find("baton_http_idle_closed_total 0\n") != std::string::npos);
  CHECK(body.find("baton_accept_errors_total{listener=\"http\"} 0\n") != std::string::npos);
  ::close(second);
}

TEST_CASE("http: idle keep-alive connections at max_connections cannot keep a probe out") {
  configured t("http: {max_connections: 2}\n");
  auto port = t.daemon->http_port();
  // A local process holds every place with connections that send nothing (idle between
  // keep-alive requests, as far as the daemon can tell).
  int first = connect_http(port);
  REQUIRE(first >= 0);
  std::this_thread::sleep_for(50ms);
  int second = connect_http(port);
  REQUIRE(second >= 0);
  CHECK_FALSE(closed_within(first, 300));
  // The probe is served: the connection idle longest made room.
  std::string body;
  REQUIRE(test::http_get(port, "/readyz", &body) > 0);
  CHECK(closed_within(first, 2000));
  CHECK_FALSE(closed_within(second, 300));
  CHECK(test::eventually([&] {
    return test::http_get(port, "/metrics", &body) == 200 &&
           body.find("baton_http_idle_closed_total 0\n") == std::string::npos;
  }));
  ::close(first);
  ::close(second);
}

namespace {

std::size_t open_descriptors(pid_t pid) {
  std::size_t n = 0;
  for (const auto& entry :
       std::filesystem::directory_iterator("/proc/" + std::to_string(pid) + "/fd")) {
    (void)entry;
    ++n;
  }
  return n;
}

// User plus system CPU time of a process, in clock ticks (/proc/<pid>/stat fields 14 and 15).
long cpu_ticks(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::istringstream fields(text.substr(text.rfind(')') + 2));
  std::string skip;
  for (int i = 3; i < 14; ++i)
    fields >> skip;
  long user = 0, system = 0;
  fields >> user >> system;
  return user + system;
}

std::size_t count_of(const std::string& text, const std::string& what) {
  std::size_t n = 0;
  for (auto at = text.find(what); at != std::string::npos; at = text.find(what, at + 1))
    ++n;
  return n;
}

} // namespace

TEST_CASE("accept failing with EMFILE backs off instead of spinning, logs once, and recovers") {
  configured t("log: {level: info}\n");
  auto pid = t.daemon->pid();
  rlimit before{};
  REQUIRE(::prlimit(pid, RLIMIT_NOFILE, nullptr, &before) == 0);
  // Room for two more descriptors: the third client waits in the backlog, its accept failing.
  rlimit low{open_descriptors(pid) + 2, before.rlim_max};
  REQUIRE(::prlimit(pid, RLIMIT_NOFILE, &low, nullptr) == 0);
  std::vector<std::unique_ptr<resp_client>> served, waiting;
  for (int i = 0; i < 5; ++i) {
    auto c = std::make_unique<resp_client>(t.daemon->socket_path(), 500);
    bool answered = false;
    try {
      answered = c->call({"PING"}).str == "PONG";
    } catch (const std::exception&) {
    }
    (answered ? served : waiting).push_back(std::move(c));
  }
  REQUIRE_FALSE(waiting.empty());
  // A second of failing accepts: with the backoff the daemon sleeps through it.
  auto ticks = cpu_ticks(pid);
  std::this_thread::sleep_for(1000ms);
  CHECK(cpu_ticks(pid) - ticks < ::sysconf(_SC_CLK_TCK) / 4);
  // Descriptors free again: the waiting clients are accepted at the next try (within 1 s).
  REQUIRE(::prlimit(pid, RLIMIT_NOFILE, &before, nullptr) == 0);
  for (auto& c : waiting)
    CHECK(test::eventually(
        [&] {
          try {
            return c->read().str == "PONG";
          } catch (const std::exception&) {
            return false;
          }
        },
        5000));
  auto m = t.metrics();
  auto at = m.find("baton_accept_errors_total{listener=\"socket\"} ");
  REQUIRE(at != std::string::npos);
  CHECK(std::stoll(m.substr(at + 45)) >= 3); // 100, 200, 400 ms ... apart
  // One line for the episode and one for its end, not one per failed accept.
  CHECK(count_of(t.daemon->log(), "accept failed; backing off") == 1);
  CHECK(count_of(t.daemon->log(), "accepting again") == 1);
}
