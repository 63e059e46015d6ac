#include "runtime/exec_sync.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <sstream>

#include "runtime/base/error.h"
#include "runtime/base/file_util.h"
#include "runtime/base/unique_fd.h"
#include "runtime/process_util.h"

extern char** environ;

namespace crisp::runtime {

namespace {

// The exec'd command is a child of `crisp-monitor exec` (inside the container's pid namespace).
// SIGKILL it and let the exec process reap it and exit, so the command is gone (not even a zombie
// waiting for the pod's init) when ExecSync returns; the exec process itself is killed only if it
// does not exit within a grace period.
void kill_exec_children(pid_t exec_pid) {
  auto children = read_file_if_exists("/proc/" + std::to_string(exec_pid) + "/task/" +
                                      std::to_string(exec_pid) + "/children");
  if (children) {
    std::istringstream in(*children);
    pid_t child = 0;
    while (in >> child) ::kill(child, SIGKILL);
  }
}

}  // namespace

ExecResult run_exec_sync(const ExecSyncRequest& request) {
  if (request.argv.empty()) throw Error(ErrorKind::kInvalidArgument, "exec: empty command");
  int out_pipe[2], err_pipe[2];
  if (::pipe2(out_pipe, O_CLOEXEC) != 0) throw_errno("pipe");
  UniqueFd out_read(out_pipe[0]), out_write(out_pipe[1]);
  if (::pipe2(err_pipe, O_CLOEXEC) != 0) throw_errno("pipe");
  UniqueFd err_read(err_pipe[0]), err_write(err_pipe[1]);

  std::vector<std::string> args = request.argv;
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);

  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&actions, out_write.get(), 1);
  posix_spawn_file_actions_adddup2(&actions, err_write.get(), 2);
  pid_t pid = 0;
  int rc = ::posix_spawn(&pid, args[0].c_str(), &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  if (rc != 0) throw_errno(ErrorKind::kInternal, rc, "spawn " + args[0]);
  out_write.reset();
  err_write.reset();
  UniqueFd pidfd = open_pidfd(pid);

  ExecResult result;
  auto deadline = std::chrono::steady_clock::now() + request.timeout;
  bool out_open = true, err_open = true, exited = false;
  char buf[16384];
  constexpr auto kDrainTime = std::chrono::milliseconds(100);
  constexpr auto kExecExitGrace = std::chrono::seconds(2);
  std::chrono::steady_clock::time_point drain_deadline{};
  auto drain = [&](UniqueFd& fd, std::string& into, bool& open) {
    ssize_t n = ::read(fd.get(), buf, sizeof(buf));
    if (n < 0 && (errno == EINTR || errno == EAGAIN)) return;
    if (n <= 0) {
      open = false;
      return;
    }
    size_t room = request.max_output_bytes > into.size() ? request.max_output_bytes - into.size() : 0;
    into.append(buf, std::min(room, static_cast<size_t>(n)));
  };
  while (out_open || err_open) {
    int wait_ms = -1;
    if (request.timeout.count() > 0) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
      wait_ms = left.count() < 0 ? 0 : static_cast<int>(left.count());
    }
    if (exited) {
      // The exec is gone: take what is buffered; a background process that keeps the pipes open
      // (and writing) gets at most kDrainTime more.
      if (drain_deadline == std::chrono::steady_clock::time_point{}) {
        drain_deadline = std::chrono::steady_clock::now() + kDrainTime;
      }
      if (std::chrono::steady_clock::now() > drain_deadline) break;
      wait_ms = 0;
    }
    struct pollfd fds[3] = {{out_open ? out_read.get() : -1, POLLIN, 0},
                            {err_open ? err_read.get() : -1, POLLIN, 0},
                            {pidfd && !exited ? pidfd.get() : -1, POLLIN, 0}};
    int n = ::poll(fds, 3, wait_ms);
    if (n < 0) {
      if (errno == EINTR) continue;
      throw_errno("poll exec output");
    }
    if (n == 0) {
      if (exited) break;
      if (!result.timed_out) {
        result.timed_out = true;
        kill_exec_children(pid);
        deadline = std::chrono::steady_clock::now() + kExecExitGrace;
      } else {
        ::kill(pid, SIGKILL);
        exited = true;
      }
      continue;
    }
    if (fds[0].revents) drain(out_read, result.stdout_data, out_open);
    if (fds[1].revents) drain(err_read, result.stderr_data, err_open);
    if (fds[2].revents) exited = true;
  }
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (WIFSIGNALED(status)) {
    result.exit_code = 128 + WTERMSIG(status);
  } else {
    result.exit_code = WEXITSTATUS(status);
  }
  return result;
}

}  // namespace crisp::runtime
