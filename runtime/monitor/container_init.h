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
  // User namespace mode (spec "namespace user join"), everything opened by the monitor as host
  // root: the pod's user namespace, the pid namespace to join (-1 = none; the monitor joins it
  // itself otherwise), the rootfs directory, and per spec mount a detached clone (open_tree) of a
  // bind's source, idmapped when asked (-1 for other mounts). unshare_flags: the namespaces made
  // inside the user namespace (CLONE_NEWNS always).
  int userns_fd = -1;
  int join_pid_fd = -1;
  int rootfs_fd = -1;
  const int* mount_fds = nullptr;
  int unshare_flags = 0;
};

// Message tags on sync_fd (child -> monitor). A terminal's master fd travels with kSyncPty
// (SCM_RIGHTS); EOF without kSyncError means the exec succeeded. kSyncPid "<pid>": in user
// namespace mode the pid of the container init (the monitor's clone()d child only prepares it).
inline constexpr char kSyncPty[] = "pty";
inline constexpr char kSyncError[] = "error ";
inline constexpr char kSyncPid[] = "pid ";

[[noreturn]] void run_container_init(const ContainerInitContext& ctx);

// User namespace mode: what the monitor's clone()d child does, as host root. Joins the cgroups,
// the pod's user namespace (becoming its root) and the pod's namespaces, creates the container's
// mount/pid/... namespaces inside it (so its root may mount proc, sysfs, devpts), then clones the
// container init as the monitor's own child (CLONE_PARENT), reports its pid and exits. The
// rootfs is reached from the working directory (the pod's root may not walk crispd's state dir):
// it is entered before the user namespace and follows into the new mount namespace.
[[noreturn]] void run_container_init_in_user_namespace(const ContainerInitContext& ctx);

// Opens path (absolute, inside root) with openat2(RESOLVE_IN_ROOT) as an O_PATH fd, creating
// missing components as directories (the last one as an empty file when last_is_file).
// Returns -1 with errno set on failure.
int open_in_root(int rootfd, const char* path, bool create, bool last_is_file);

}  // namespace crisp::monitor
