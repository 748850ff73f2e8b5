// Hook processes; see hook_runner.hpp.
#include "services/secret/hook_runner.hpp"

#include <boost/asio/post.hpp>

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <map>
#include <memory>
#include <mutex>
#include <thread>

namespace baton::secret {
namespace {

constexpr std::size_t max_output = 1 << 20;

// Everything after fork in the child uses only async-signal-safe calls.
hook_result run_blocking(const std::string& command, const secure_bytes& input,
                         const std::vector<std::string>& environment,
                         std::chrono::milliseconds timeout,
                         const std::function<void(pid_t)>& started) {
  hook_result result;
  int to_child[2], from_child[2];
  if (pipe2(to_child, O_CLOEXEC) != 0) {
    result.why = "cannot create a pipe";
    return result;
  }
  if (pipe2(from_child, O_CLOEXEC) != 0) {
    close(to_child[0]);
    close(to_child[1]);
    result.why = "cannot create a pipe";
    return result;
  }
  std::vector<std::string> env_strings;
  for (char** e = environ; *e; ++e)
    env_strings.emplace_back(*e);
  for (const auto& e : environment)
    env_strings.push_back(e);
  std::vector<char*> envp;
  for (auto& e : env_strings)
    envp.push_back(e.data());
  envp.push_back(nullptr);
  std::string shell = "/bin/sh", flag = "-c", text = command;
  char* argv[] = {shell.data(), flag.data(), text.data(), nullptr};

  pid_t child = fork();
  if (child < 0) {
    result.why = "cannot fork";
    for (int fd : {to_child[0], to_child[1], from_child[0], from_child[1]})
      close(fd);
    return result;
  }
  if (child == 0) {
    dup2(to_child[0], 0);
    dup2(from_child[1], 1);
    setpgid(0, 0); // its own group, so a timeout kills what it started too
    execve(argv[0], argv, envp.data());
    _exit(127);
  }
  started(child);
  close(to_child[0]);
  close(from_child[1]);
  auto deadline = std::chrono::steady_clock::now() + timeout;
  std::size_t written = 0;
  if (input.empty()) {
    close(to_child[1]);
    to_child[1] = -1;
  }
  secure_bytes output(max_output);
  std::size_t got = 0;
  bool timed_out = false, output_open = true;
  while (output_open) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                    deadline - std::chrono::steady_clock::now())
                    .count();
    if (left <= 0) {
      timed_out = true;
      break;
    }
    pollfd fds[2] = {{from_child[0], POLLIN, 0}, {to_child[1], POLLOUT, 0}};
    int n = poll(fds, to_child[1] >= 0 ? 2 : 1, static_cast<int>(left));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) break;
    if (to_child[1] >= 0 && (fds[1].revents & (POLLOUT | POLLERR | POLLHUP))) {
      ssize_t w = write(to_child[1], input.data() + written, input.size() - written);
      if (w > 0) written += static_cast<std::size_t>(w);
      if (w < 0 || written == input.size()) {
        close(to_child[1]);
        to_child[1] = -1;
      }
    }
    if (fds[0].revents & (POLLIN | POLLHUP | POLLERR)) {
      ssize_t r = got < max_output ? read(from_child[0], output.data() + got, max_output - got) : 0;
      if (r > 0)
        got += static_cast<std::size_t>(r);
      else if (r == 0 || errno != EINTR)
        output_open = false;
    }
  }
  if (to_child[1] >= 0) close(to_child[1]);
  close(from_child[0]);
  if (timed_out) kill(-child, SIGKILL);
  int status = 0;
  // After stdout closed the child may still be running: wait, but not past the deadline.
  while (true) {
    pid_t w = waitpid(child, &status, timed_out ? 0 : WNOHANG);
    if (w == child) break;
    if (w < 0 && errno != EINTR) break;
    if (w == 0) {
      if (std::chrono::steady_clock::now() >= deadline) {
        timed_out = true;
        kill(-child, SIGKILL);
        continue;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
  }
  output.truncate(got);
  if (timed_out) {
    result.why = "timed out after " + std::to_string(timeout.count()) + " ms";
  } else if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
    result.ok = true;
    result.output = std::move(output);
  } else if (WIFEXITED(status)) {
    result.why = "exited with status " + std::to_string(WEXITSTATUS(status));
  } else if (WIFSIGNALED(status)) {
    result.why = "killed by signal " + std::to_string(WTERMSIG(status));
  } else {
    result.why = "ended abnormally";
  }
  return result;
}

} // namespace

struct hook_runner::shared_state {
  std::mutex mutex;
  bool stopping = false;
  std::vector<pid_t> running; ///< process groups of hooks still running
  std::map<std::uint64_t, std::thread> threads;
  std::vector<std::uint64_t> finished; ///< threads that are done, to be joined by the next run
  std::uint64_t next_id = 0;
};

std::shared_ptr<hook_runner::shared_state> hook_runner::make_state() {
  return std::make_shared<shared_state>();
}

hook_runner::~hook_runner() {
  std::map<std::uint64_t, std::thread> threads;
  {
    std::lock_guard<std::mutex> lock(state_->mutex);
    state_->stopping = true;
    for (pid_t group : state_->running)
      kill(-group, SIGKILL);
    threads = std::move(state_->threads);
  }
  for (auto& [id, t] : threads)
    if (t.joinable()) t.join();
}

void hook_runner::run(const std::string& command, secure_bytes input,
                      std::vector<std::string> environment, std::chrono::milliseconds timeout,
                      std::function<void(hook_result)> done) {
  auto shared_input = std::make_shared<secure_bytes>(std::move(input));
  auto state = state_;
  auto& io = io_;
  std::vector<std::thread> finished; // each holds its resources until joined
  {
    std::lock_guard<std::mutex> lock(state->mutex);
    if (state->stopping) return;
    for (auto id : state->finished) {
      finished.push_back(std::move(state->threads.at(id)));
      state->threads.erase(id);
    }
    state->finished.clear();
    auto id = state->next_id++;
    state->threads[id] =
        std::thread([&io, state, id, command, shared_input, environment = std::move(environment),
                     timeout, done = std::move(done)]() mutable {
          pid_t group = 0;
          auto started = [&](pid_t child) {
            std::lock_guard<std::mutex> guard(state->mutex);
            group = child;
            state->running.push_back(child);
            if (state->stopping) kill(-child, SIGKILL);
          };
          auto result = std::make_shared<hook_result>(
              run_blocking(command, *shared_input, environment, timeout, started));
          *shared_input = secure_bytes();
          std::lock_guard<std::mutex> guard(state->mutex);
          auto& running = state->running;
          running.erase(std::remove(running.begin(), running.end(), group), running.end());
          if (!state->stopping) {
            boost::asio::post(io, [result, done = std::move(done)] { done(std::move(*result)); });
            state->finished.push_back(id);
          }
        });
  }
  // A finished thread has only its return left: joining it (outside the lock it may still
  // be releasing) is quick.
  for (auto& t : finished)
    t.join();
}

} // namespace baton::secret
