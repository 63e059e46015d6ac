#pragma once
// pidfd helpers (signal a process without racing pid reuse) and the clock the records use.
#include <sys/types.h>

#include <chrono>
#include <cstdint>

#include "runtime/base/unique_fd.h"

namespace crisp::runtime {

// pidfd_open(pid); an invalid fd if the process does not exist.
UniqueFd open_pidfd(pid_t pid);
// pidfd_send_signal; false if the process is gone (ESRCH).
bool signal_pidfd(int pidfd, int signal);
// Waits until the process has exited; false on timeout.
bool wait_pidfd_exit(int pidfd, std::chrono::milliseconds timeout);

// CLOCK_REALTIME in nanoseconds.
int64_t now_ns();

}  // namespace crisp::runtime
