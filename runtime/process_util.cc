#include "runtime/process_util.h"

#include <poll.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>

#include "runtime/base/error.h"

namespace crisp::runtime {

UniqueFd open_pidfd(pid_t pid) {
  if (pid <= 0) return UniqueFd();
  int fd = static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
  if (fd < 0) {
    if (errno == ESRCH) return UniqueFd();
    throw_errno("pidfd_open " + std::to_string(pid));
  }
  return UniqueFd(fd);
}

bool signal_pidfd(int pidfd, int signal) {
  if (::syscall(SYS_pidfd_send_signal, pidfd, signal, nullptr, 0) == 0) return true;
  if (errno == ESRCH) return false;
  throw_errno("pidfd_send_signal");
}

bool wait_pidfd_exit(int pidfd, std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    struct pollfd pfd = {pidfd, POLLIN, 0};
    int n = ::poll(&pfd, 1, left.count() < 0 ? 0 : static_cast<int>(left.count()));
    if (n > 0) return true;
    if (n == 0) return false;
    if (errno != EINTR) throw_errno("poll pidfd");
  }
}

int64_t now_ns() {
  struct timespec ts;
  ::clock_gettime(CLOCK_REALTIME, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1000000000LL + ts.tv_nsec;
}

}  // namespace crisp::runtime
