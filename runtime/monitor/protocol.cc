#include "runtime/monitor/protocol.h"

#include <fcntl.h>
#include <poll.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <sstream>

#include "runtime/base/error.h"
#include "runtime/base/file_util.h"
#include "runtime/base/unique_fd.h"

extern char** environ;

namespace crisp::monitor {

namespace {

// Parses "key value" lines into a lookup; throws kInternal on a malformed line.
template <typename Fn>
void for_each_record(const std::string& path, const std::string& text, Fn&& fn) {
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    auto sp = line.find(' ');
    if (sp == std::string::npos) throw Error(ErrorKind::kInternal, path + ": malformed line");
    try {
      fn(line.substr(0, sp), std::stoll(line.substr(sp + 1)));
    } catch (const std::logic_error&) {
      throw Error(ErrorKind::kInternal, path + ": bad number in \"" + line + "\"");
    }
  }
}

int64_t remaining_ms(std::chrono::steady_clock::time_point deadline) {
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
      deadline - std::chrono::steady_clock::now());
  return left.count() < 0 ? 0 : left.count();
}

}  // namespace

std::string default_monitor_path() {
  if (const char* env = std::getenv("CRISP_MONITOR_PATH"); env && *env) return env;
  char self[4096];
  ssize_t n = ::readlink("/proc/self/exe", self, sizeof(self) - 1);
  if (n > 0) {
    std::string dir(self, static_cast<size_t>(n));
    dir.resize(dir.rfind('/') + 1);
    if (::access((dir + "crisp-monitor").c_str(), X_OK) == 0) return dir + "crisp-monitor";
  }
  if (::access(CRISP_MONITOR_BUILD_PATH, X_OK) == 0) return CRISP_MONITOR_BUILD_PATH;
  return kDefaultMonitorPath;
}

std::optional<PidFile> read_pid_file(const std::string& path) {
  auto text = read_file_if_exists(path);
  if (!text) return std::nullopt;
  PidFile f;
  bool has_pid = false;
  for_each_record(path, *text, [&](const std::string& key, long long v) {
    if (key == "pid") {
      f.pid = static_cast<pid_t>(v);
      has_pid = true;
    } else if (key == "start_time") {
      f.start_time = static_cast<uint64_t>(v);
    } else if (key == "monitor_pid") {
      f.monitor_pid = static_cast<pid_t>(v);
    } else if (key == "monitor_start_time") {
      f.monitor_start_time = static_cast<uint64_t>(v);
    }
  });
  if (!has_pid) throw Error(ErrorKind::kInternal, path + ": no pid");
  return f;
}

std::optional<ExitFile> read_exit_file(const std::string& path) {
  auto text = read_file_if_exists(path);
  if (!text) return std::nullopt;
  ExitFile f;
  bool has_code = false;
  for_each_record(path, *text, [&](const std::string& key, long long v) {
    if (key == "exit_code") {
      f.exit_code = static_cast<int>(v);
      has_code = true;
    } else if (key == "signal") {
      f.signal = static_cast<int>(v);
    } else if (key == "started_at") {
      f.started_at_ns = v;
    } else if (key == "finished_at") {
      f.finished_at_ns = v;
    }
  });
  if (!has_code) throw Error(ErrorKind::kInternal, path + ": no exit_code");
  return f;
}

std::optional<uint64_t> read_process_start_time(pid_t pid) {
  auto text = read_file_if_exists("/proc/" + std::to_string(pid) + "/stat");
  if (!text) return std::nullopt;
  auto paren = text->rfind(')');
  if (paren == std::string::npos) return std::nullopt;
  std::istringstream in(text->substr(paren + 2));
  std::string field;
  // After "pid (comm) " the next field is field 3 (state); start time is field 22.
  for (int i = 3; i <= 22; ++i) {
    if (!(in >> field)) return std::nullopt;
  }
  return std::stoull(field);
}

StartedContainer start_container_monitor(const std::string& monitor_path,
                                         const std::string& bundle_dir,
                                         const std::string& stderr_path,
                                         std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) throw_errno("pipe for the monitor's sync fd");
  UniqueFd read_end(fds[0]), write_end(fds[1]);

  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0);
  posix_spawn_file_actions_addopen(&actions, 2,
                                   stderr_path.empty() ? "/dev/null" : stderr_path.c_str(),
                                   O_WRONLY | O_CREAT | O_APPEND, 0640);
  posix_spawn_file_actions_adddup2(&actions, write_end.get(), 3);
  std::string sync_arg = "3";
  const char* argv[] = {monitor_path.c_str(), "run", bundle_dir.c_str(), "--sync-fd",
                        sync_arg.c_str(), nullptr};
  pid_t launcher = 0;
  int rc = ::posix_spawn(&launcher, monitor_path.c_str(), &actions, nullptr,
                         const_cast<char* const*>(argv), environ);
  posix_spawn_file_actions_destroy(&actions);
  if (rc != 0) throw_errno(ErrorKind::kInternal, rc, "spawn " + monitor_path);
  write_end.reset();
  int status = 0;
  while (::waitpid(launcher, &status, 0) < 0 && errno == EINTR) {
  }

  std::string reply;
  char buf[512];
  for (;;) {
    struct pollfd pfd = {read_end.get(), POLLIN, 0};
    int n = ::poll(&pfd, 1, static_cast<int>(remaining_ms(deadline)));
    if (n < 0 && errno == EINTR) continue;
    if (n == 0) {
      throw Error(ErrorKind::kDeadlineExceeded,
                  "crisp-monitor for " + bundle_dir + " did not report within " +
                      std::to_string(timeout.count()) + " ms");
    }
    ssize_t got = ::read(read_end.get(), buf, sizeof(buf));
    if (got < 0 && errno == EINTR) continue;
    if (got <= 0) break;
    reply.append(buf, static_cast<size_t>(got));
    if (reply.find('\n') != std::string::npos) break;
  }
  if (auto nl = reply.find('\n'); nl != std::string::npos) reply.resize(nl);
  if (reply.rfind("started ", 0) == 0) {
    StartedContainer started;
    std::istringstream in(reply.substr(8));
    long long pid = 0;
    unsigned long long ticks = 0;
    if (in >> pid >> ticks) {
      started.pid = static_cast<pid_t>(pid);
      started.start_time = ticks;
      return started;
    }
  } else if (reply.rfind("error ", 0) == 0) {
    throw Error(ErrorKind::kFailedPrecondition, reply.substr(6));
  }
  if (reply.empty()) {
    throw Error(ErrorKind::kInternal,
                "crisp-monitor for " + bundle_dir + " exited without a report (launcher status " +
                    std::to_string(status) + ")");
  }
  throw Error(ErrorKind::kInternal, "crisp-monitor sent a malformed report: " + reply);
}

std::string send_control_command(const std::string& socket_path, const std::string& command,
                                 std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!fd) throw_errno("socket");
  struct sockaddr_un addr = {};
  addr.sun_family = AF_UNIX;
  if (socket_path.size() >= sizeof(addr.sun_path)) {
    throw Error(ErrorKind::kInvalidArgument, "control socket path too long: " + socket_path);
  }
  std::memcpy(addr.sun_path, socket_path.c_str(), socket_path.size() + 1);
  if (::connect(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    throw_errno(ErrorKind::kUnavailable, errno, "connect " + socket_path);
  }
  std::string line = command + "\n";
  if (::send(fd.get(), line.data(), line.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(line.size())) {
    throw_errno(ErrorKind::kUnavailable, errno, "send to " + socket_path);
  }
  std::string reply;
  char buf[256];
  while (reply.find('\n') == std::string::npos) {
    struct pollfd pfd = {fd.get(), POLLIN, 0};
    int n = ::poll(&pfd, 1, static_cast<int>(remaining_ms(deadline)));
    if (n < 0 && errno == EINTR) continue;
    if (n == 0) throw Error(ErrorKind::kDeadlineExceeded, "no reply from " + socket_path);
    ssize_t got = ::read(fd.get(), buf, sizeof(buf));
    if (got < 0 && errno == EINTR) continue;
    if (got <= 0) break;
    reply.append(buf, static_cast<size_t>(got));
  }
  if (auto nl = reply.find('\n'); nl != std::string::npos) reply.resize(nl);
  if (reply.empty()) throw Error(ErrorKind::kUnavailable, "connection closed by " + socket_path);
  return reply;
}

}  // namespace crisp::monitor
