// The private redis-server of a test; see test_redis.hpp.
#include "tests/support/test_redis.hpp"

#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <stdexcept>

#include "protocol/resp_client.hpp"

namespace baton::test {

temp_dir::temp_dir() {
  char pattern[] = "/tmp/baton-test-XXXXXX";
  if (mkdtemp(pattern) == nullptr) throw std::runtime_error("mkdtemp failed");
  path_ = pattern;
}

temp_dir::~temp_dir() {
  std::error_code ignored;
  std::filesystem::remove_all(path_, ignored);
}

unsigned short free_port() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
  socklen_t length = sizeof(addr);
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &length);
  ::close(fd);
  return ntohs(addr.sin_port);
}

int run_command(const std::string& command, std::string* output) {
  std::string full = command + " 2>&1";
  FILE* pipe = ::popen(full.c_str(), "r");
  if (pipe == nullptr) return -1;
  std::array<char, 4096> chunk{};
  std::string text;
  while (auto n = std::fread(chunk.data(), 1, chunk.size(), pipe))
    text.append(chunk.data(), n);
  int status = ::pclose(pipe);
  if (output != nullptr) *output = text;
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

pid_t spawn(std::vector<std::string> args, const std::string& log_path) {
  pid_t pid = ::fork();
  if (pid == 0) {
    if (!log_path.empty()) {
      int fd = ::open(log_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
      ::dup2(fd, 1);
      ::dup2(fd, 2);
    }
    std::vector<char*> argv;
    for (auto& a : args)
      argv.push_back(a.data());
    argv.push_back(nullptr);
    ::execvp(argv[0], argv.data());
    std::perror(("exec " + args[0]).c_str());
    ::_exit(127);
  }
  return pid;
}

bool answers_ping(const std::string& socket, int timeout_ms) {
  return eventually(
      [&] {
        try {
          protocol::resp_client client(socket, 200);
          return client.call({"PING"}).str == "PONG";
        } catch (...) {
          return false;
        }
      },
      timeout_ms);
}

test_redis::test_redis(std::vector<std::string> extra)
    : socket_(dir_.file("redis.sock")), extra_(std::move(extra)) {
  start();
}

test_redis::~test_redis() {
  kill();
}

void test_redis::start() {
  std::vector<std::string> args = {"redis-server",
                                   "--port",
                                   "0",
                                   "--bind",
                                   "127.0.0.1",
                                   "--unixsocket",
                                   socket_,
                                   "--unixsocketperm",
                                   "700",
                                   "--save",
                                   "",
                                   "--appendonly",
                                   "no",
                                   "--dir",
                                   dir_.path(),
                                   "--logfile",
                                   dir_.file("redis.log")};
  args.insert(args.end(), extra_.begin(), extra_.end());
  args.insert(args.begin(), wrapper_.begin(), wrapper_.end());
  pid_ = spawn(args, "");
  if (!answers_ping(socket_))
    throw std::runtime_error("redis-server did not start; see " + dir_.file("redis.log"));
}

std::vector<std::string> clock_shift_wrapper(long seconds) {
  return {"env", std::string("LD_PRELOAD=") + BATON_CLOCK_SHIFT_PATH,
          "BATON_CLOCK_SHIFT_S=" + std::to_string(seconds)};
}

void test_redis::pause() {
  if (pid_ > 0) ::kill(pid_, SIGSTOP);
}

void test_redis::resume() {
  if (pid_ > 0) ::kill(pid_, SIGCONT);
}

void test_redis::kill() {
  if (pid_ <= 0) return;
  ::kill(pid_, SIGKILL);
  ::waitpid(pid_, nullptr, 0);
  pid_ = -1;
  ::unlink(socket_.c_str());
}

void test_redis::stop() {
  if (pid_ <= 0) return;
  cli({"SHUTDOWN", "NOSAVE"});
  ::waitpid(pid_, nullptr, 0);
  pid_ = -1;
}

std::string test_redis::cli(const std::vector<std::string>& args) const {
  std::string command = "redis-cli -s '" + socket_ + "'";
  for (const auto& a : args)
    command += " '" + a + "'";
  std::string output;
  run_command(command, &output);
  while (!output.empty() && (output.back() == '\n' || output.back() == '\r'))
    output.pop_back();
  return output;
}

unsigned short unused_port(const std::vector<unsigned short>& taken) {
  for (;;) {
    auto port = free_port();
    if (std::find(taken.begin(), taken.end(), port) == taken.end()) return port;
  }
}

} // namespace baton::test
