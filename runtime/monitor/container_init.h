#pragma once
// The container init: what the monitor's clone()d child does between clone and execve.
// Namespaces to join, cgroups, mounts resolved inside the rootfs, devices, pivot_root, masked
// and read-only paths, hostname, terminal, stdio, then process_setup.h and exec. Failures are
// sent to the monitor over sync_fd as "error <message>" and the child exits.
#include "runtime/monitor/process_setup.h"
#include "runtime/monitor/spec_parse.h"

namespace crisp::monitor {

struct ContainerInitContext {
  const ParsedSpec* spec = nullptr;
  const SeccompProgram* seccomp = nullptr;
  int sync_fd = -1;  // SOCK_SEQPACKET to the monitor; CLOEXEC, so exec closes it
  int join_net_fd = -1, join_ipc_fd = -1, join_uts_fd = -1;  // -1 = not joining
  int stdin_fd = -1, stdout_fd = -1, stderr_fd = -1;          // unused with a terminal
};

// Message tags on sync_fd (child -> monitor). A terminal's master fd travels with kSyncPty
// (SCM_RIGHTS); EOF without kSyncError means the exec succeeded.
inline constexpr char kSyncPty[] = "pty";
inline constexpr char kSyncError[] = "error ";

[[noreturn]] void run_container_init(const ContainerInitContext& ctx);

// Opens path (absolute, inside root) with openat2(RESOLVE_IN_ROOT) as an O_PATH fd, creating
// missing components as directories (the last one as an empty file when last_is_file).
// Returns -1 with errno set on failure.
int open_in_root(int rootfd, const char* path, bool create, bool last_is_file);

}  // namespace crisp::monitor
