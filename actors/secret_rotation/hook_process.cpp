// Hook processes; see hook_process.hpp.
#include "actors/secret_rotation/hook_process.hpp"

#include <sys/syscall.h>

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <mutex>
#include <set>
#include <thread>

namespace baton::secret {
namespace {

constexpr std::size_t max_output = 1 << 20;

// The process groups of hooks running now, so that a stopping daemon can end them.
std::mutex running_mutex;
std::set<pid_t> running_groups;
bool stopping = false;

// Closes every descriptor from 3 up in the child (sockets, Redis connections, the KEK files'
// descriptors if any): a hook inherits its three standard streams and nothing else.
// close_range is one system call (Linux 5.9+); older kernels get the loop. Both are
// async-signal-safe.
void close_inherited_descriptors() {
#ifdef SYS_close_range
  if (syscall(SYS_close_range, 3U, ~0U, 0U) == 0) return;
#endif
  long limit = sysconf(_SC_OPEN_MAX);
  for (long fd = 3; fd < (limit > 0 ? limit : 1024); ++fd)
    close(static_cast<int>(fd));
}

// Everything after fork in the child uses only async-signal-safe calls.
hook_result run_blocking(const std::string& command, const secure_bytes& input,
                         const std::vector<std::string>& environment,
                         std::chrono::milliseconds timeout) {
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
  // A clean environment: the daemon's own (which may name KEK variables) stays out.
  std::vector<std::string> env_strings = {"PATH=" + std::string(hook_path), "LANG=C.UTF-8"};
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
    close_inherited_descriptors();
    // The daemon is non-dumpable, but exec makes a process dumpable again: a hook that crashes
    // while holding a new secret must not write it to a core file. The limit survives exec.
    struct rlimit no_core {
      0, 0
    };
    setrlimit(RLIMIT_CORE, &no_core);
    setpgid(0, 0); // its own group, so a timeout kills what it started too
    execve(argv[0], argv, envp.data());
    _exit(127);
  }
  {
    std::lock_guard<std::mutex> guard(running_mutex);
    running_groups.insert(child);
    if (stopping) kill(-child, SIGKILL);
  }
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
  {
    std::lock_guard<std::mutex> guard(running_mutex);
    running_groups.erase(child);
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

hook_result run_hook(const std::string& command, const secure_bytes& input,
                     const std::vector<std::string>& environment,
                     std::chrono::milliseconds timeout) {
  return run_blocking(command, input, environment, timeout);
}

void kill_running_hooks() {
  std::lock_guard<std::mutex> guard(running_mutex);
  stopping = true;
  for (pid_t group : running_groups)
    kill(-group, SIGKILL);
}

} // namespace baton::secret
