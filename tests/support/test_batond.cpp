// A batond process for tests; see test_batond.hpp.
#include "tests/support/test_batond.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <sstream>
#include <stdexcept>

#include "protocol/resp_client.hpp"

#ifndef BATOND_PATH
#error "BATOND_PATH must name the batond binary"
#endif

namespace baton::test {

test_batond::test_batond(const std::string& redis_url, std::vector<std::string> extra,
                         std::vector<std::string> wrapper)
    : socket_(dir_.file("baton.sock")), http_port_(free_port()) {
  for (std::size_t i = 0; i + 1 < extra.size(); ++i)
    if (extra[i] == "--socket") socket_ = extra[i + 1]; // the later flag wins in batond too
  std::vector<std::string> args = {BATOND_PATH,
                                   "--socket",
                                   socket_,
                                   "--redis",
                                   redis_url,
                                   "--http",
                                   "127.0.0.1:" + std::to_string(http_port_),
                                   "--state-dir",
                                   dir_.path()};
  args.insert(args.end(), extra.begin(), extra.end());
  args.insert(args.begin(), wrapper.begin(), wrapper.end());
  pid_ = spawn(args, dir_.file("batond.log"));
  bool up = answers_ping(socket_);
  if (!up) throw std::runtime_error("batond did not start:\n" + log());
  // Give its Redis link a moment to connect, so that tests start from a ready node. Tests
  // that start batond without a Redis simply wait here a little longer.
  eventually(
      [&] {
        try {
          protocol::resp_client client(socket_, 200);
          return client.call({"INFO", "redis"}).str.find("redis_reachable:1") != std::string::npos;
        } catch (...) {
          return false;
        }
      },
      2000);
}

test_batond::~test_batond() {
  kill();
}

std::string test_batond::log() const {
  std::ifstream in(dir_.file("batond.log"));
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

int test_batond::stop() {
  if (pid_ <= 0) return -1;
  ::kill(pid_, SIGTERM);
  return wait_exit();
}

int test_batond::wait_exit() {
  if (pid_ <= 0) return -1;
  int status = 0;
  ::waitpid(pid_, &status, 0);
  pid_ = -1;
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

void test_batond::kill() {
  if (pid_ <= 0) return;
  ::kill(pid_, SIGKILL);
  ::waitpid(pid_, nullptr, 0);
  pid_ = -1;
}

void test_batond::signal(int sig) {
  if (pid_ > 0) ::kill(pid_, sig);
}

int test_batond::run_to_exit(const std::vector<std::string>& args, std::string* output) {
  std::string command = BATOND_PATH;
  for (const auto& a : args)
    command += " '" + a + "'";
  return run_command(command, output);
}

int http_get(unsigned short port, const std::string& path, std::string* body) {
  std::string output;
  int rc = run_command(
      "curl -s -o /dev/stdout -w '\\n%{http_code}' http://127.0.0.1:" + std::to_string(port) + path,
      &output);
  if (rc != 0) return -1;
  auto last = output.rfind('\n');
  if (body != nullptr) *body = output.substr(0, last);
  return std::stoi(output.substr(last + 1));
}

} // namespace baton::test
