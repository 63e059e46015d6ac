#include "network/cni_exec.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>

#include "runtime/base/error.h"
#include "runtime/base/unique_fd.h"

extern char** environ;

namespace crisp::network {

namespace {

// The parent's environment with the CNI_* variables replaced.
std::vector<std::string> plugin_environment(const CniInvocation& inv) {
  std::vector<std::string> env;
  for (char** e = environ; e && *e; ++e) {
    if (std::strncmp(*e, "CNI_", 4) == 0) continue;
    env.emplace_back(*e);
  }
  env.push_back("CNI_COMMAND=" + inv.command);
  env.push_back("CNI_CONTAINERID=" + inv.container_id);
  env.push_back("CNI_NETNS=" + inv.netns);
  env.push_back("CNI_IFNAME=" + inv.ifname);
  env.push_back("CNI_ARGS=" + inv.args);
  env.push_back("CNI_PATH=" + inv.cni_path);
  return env;
}

void make_pipe(UniqueFd& read_end, UniqueFd& write_end) {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) throw_errno("pipe2");
  read_end.reset(fds[0]);
  write_end.reset(fds[1]);
}

}  // namespace

std::string find_cni_plugin(const std::string& type, const std::vector<std::string>& bin_dirs) {
  std::string searched;
  for (const auto& dir : bin_dirs) {
    std::string path = dir + "/" + type;
    struct stat st {};
    if (::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode) && ::access(path.c_str(), X_OK) == 0) {
      return path;
    }
    searched += (searched.empty() ? "" : ", ") + dir;
  }
  throw Error(ErrorKind::kNotFound,
              "failed to find CNI plugin \"" + type + "\" in path [" + searched + "]");
}

CniOutput run_cni_plugin(const CniInvocation& inv) {
  // stdin is a socket so that a plugin exiting early cannot SIGPIPE us (send with MSG_NOSIGNAL).
  int sv[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) throw_errno("socketpair");
  UniqueFd stdin_parent(sv[0]), stdin_child(sv[1]);
  UniqueFd out_read, out_write, err_read, err_write;
  make_pipe(out_read, out_write);
  make_pipe(err_read, err_write);

  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, stdin_child.get(), 0);
  posix_spawn_file_actions_adddup2(&actions, out_write.get(), 1);
  posix_spawn_file_actions_adddup2(&actions, err_write.get(), 2);
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  sigset_t empty, all;
  sigemptyset(&empty);
  sigfillset(&all);
  sigdelset(&all, SIGKILL);
  sigdelset(&all, SIGSTOP);
  posix_spawnattr_setsigmask(&attr, &empty);
  posix_spawnattr_setsigdefault(&attr, &all);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);

  std::vector<std::string> env_strings = plugin_environment(inv);
  std::vector<char*> envp;
  for (auto& s : env_strings) envp.push_back(s.data());
  envp.push_back(nullptr);
  std::string argv0 = inv.plugin_path;
  char* argv[] = {argv0.data(), nullptr};

  pid_t pid = -1;
  int rc = ::posix_spawn(&pid, inv.plugin_path.c_str(), &actions, &attr, argv, envp.data());
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attr);
  if (rc != 0) throw_errno(ErrorKind::kInternal, rc, "start CNI plugin " + inv.plugin_path);
  stdin_child.reset();
  out_write.reset();
  err_write.reset();

  CniOutput output;
  size_t written = 0;
  if (inv.stdin_data.empty()) ::shutdown(stdin_parent.get(), SHUT_WR);
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(inv.timeout_ms);
  bool timed_out = false;
  while (out_read || err_read) {
    pollfd fds[3];
    int n = 0;
    int out_slot = -1, err_slot = -1, in_slot = -1;
    if (out_read) { fds[n] = {out_read.get(), POLLIN, 0}; out_slot = n++; }
    if (err_read) { fds[n] = {err_read.get(), POLLIN, 0}; err_slot = n++; }
    if (stdin_parent && written < inv.stdin_data.size()) {
      fds[n] = {stdin_parent.get(), POLLOUT, 0};
      in_slot = n++;
    }
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now()).count();
    if (left <= 0) {
      timed_out = true;
      break;
    }
    int ready = ::poll(fds, n, static_cast<int>(left));
    if (ready < 0) {
      if (errno == EINTR) continue;
      ::kill(pid, SIGKILL);
      ::waitpid(pid, nullptr, 0);
      throw_errno("poll CNI plugin output");
    }
    if (ready == 0) continue;
    auto drain = [](UniqueFd& fd, std::string& sink) {
      char buf[8192];
      ssize_t got = ::read(fd.get(), buf, sizeof buf);
      if (got > 0) {
        sink.append(buf, static_cast<size_t>(got));
      } else if (got == 0 || (errno != EINTR && errno != EAGAIN)) {
        fd.reset();
      }
    };
    if (out_slot >= 0 && fds[out_slot].revents) drain(out_read, output.out);
    if (err_slot >= 0 && fds[err_slot].revents) drain(err_read, output.err);
    if (in_slot >= 0 && fds[in_slot].revents) {
      ssize_t sent = ::send(stdin_parent.get(), inv.stdin_data.data() + written,
                            inv.stdin_data.size() - written, MSG_NOSIGNAL | MSG_DONTWAIT);
      if (sent > 0) written += static_cast<size_t>(sent);
      if (sent < 0 && errno != EAGAIN && errno != EINTR) written = inv.stdin_data.size();
      if (written >= inv.stdin_data.size()) ::shutdown(stdin_parent.get(), SHUT_WR);
    }
  }
  if (timed_out) {
    ::kill(pid, SIGKILL);
    ::waitpid(pid, nullptr, 0);
    throw Error(ErrorKind::kDeadlineExceeded,
                "CNI plugin " + inv.plugin_path + " (" + inv.command + ") timed out after " +
                    std::to_string(inv.timeout_ms) + " ms");
  }
  int status = 0;
  pid_t waited;
  do {
    waited = ::waitpid(pid, &status, 0);
  } while (waited < 0 && errno == EINTR);
  if (waited < 0) {
    output.exit_code = -1;  // reaped by someone else: judge by the output
  } else if (WIFEXITED(status)) {
    output.exit_code = WEXITSTATUS(status);
  } else {
    output.exit_code = 128 + (WIFSIGNALED(status) ? WTERMSIG(status) : 0);
  }
  return output;
}

}  // namespace crisp::network
