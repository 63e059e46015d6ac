#include "runtime/monitor/container_init.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/mount.h>
#include <linux/openat2.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/uio.h>
#include <termios.h>
#include <unistd.h>

#include "runtime/monitor/util.h"

namespace crisp::monitor {

namespace {

constexpr unsigned long kRemountableFlags = MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC |
                                            MS_NOATIME | MS_NODIRATIME | MS_RELATIME |
                                            MS_STRICTATIME | MS_SYNCHRONOUS | MS_DIRSYNC;

[[noreturn]] void fail_and_exit(const ContainerInitContext& ctx, const ChildError& err) {
  char buf[sizeof(err.message) + 8];
  int n = snprintf(buf, sizeof(buf), "%s%s", kSyncError, err.message);
  send(ctx.sync_fd, buf, static_cast<size_t>(n), MSG_NOSIGNAL);
  _exit(err.exit_code ? err.exit_code : 1);
}

int openat2_in_root(int rootfd, const char* path) {
  struct open_how how = {};
  how.flags = O_PATH | O_CLOEXEC;
  how.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS;
  int fd;
  do {
    fd = static_cast<int>(syscall(SYS_openat2, rootfd, path, &how, sizeof(how)));
  } while (fd < 0 && errno == EAGAIN);
  return fd;
}

const char* fd_path(char* buf, size_t size, int fd) {
  snprintf(buf, size, "/proc/self/fd/%d", fd);
  return buf;
}

bool join_namespace(int fd, int nstype, const char* what, ChildError* err) {
  if (fd < 0) return true;
  if (setns(fd, nstype) != 0) return child_fail_errno(err, "join %s namespace", what);
  return true;
}

bool join_cgroups(const ParsedSpec& spec, bool new_namespace, ChildError* err) {
  for (uint32_t i = 0; i < spec.cgroup_procs_count; ++i) {
    int fd = open(spec.cgroup_procs[i], O_WRONLY | O_CLOEXEC);
    if (fd < 0 || !write_all(fd, "0", 1)) {
      int saved = errno;
      if (fd >= 0) close(fd);
      errno = saved;
      return child_fail_errno(err, "join cgroup %s", spec.cgroup_procs[i]);
    }
    close(fd);
  }
  if (new_namespace && spec.cgroup.mode == kNsNew && unshare(CLONE_NEWCGROUP) != 0) {
    return child_fail_errno(err, "create cgroup namespace");
  }
  return true;
}

bool is_bind(const ParsedMount& m) { return (m.flags & MS_BIND) != 0; }

// prepared_fd: a detached clone of the bind's source made by the monitor (user namespace mode),
// attached with move_mount; -1 = mount by path.
bool do_mount(int rootfd, const ParsedMount& m, int prepared_fd, ChildError* err) {
  bool last_is_file = false;
  if (prepared_fd >= 0) {
    struct stat st;
    if (fstat(prepared_fd, &st) != 0) {
      return child_fail_errno(err, "mount %s: bind source %s", m.destination, m.source);
    }
    last_is_file = !S_ISDIR(st.st_mode);
  } else if (is_bind(m) && m.source) {
    struct stat st;
    if (stat(m.source, &st) != 0) {
      return child_fail_errno(err, "mount %s: bind source %s", m.destination, m.source);
    }
    last_is_file = !S_ISDIR(st.st_mode);
  }
  int target = open_in_root(rootfd, m.destination, true, last_is_file);
  if (target < 0) return child_fail_errno(err, "mount %s: resolve destination", m.destination);
  char proc_path[40];
  const char* type = m.type ? m.type : "none";
  unsigned long flags = m.flags & ~(MS_REMOUNT);
  if (prepared_fd >= 0) {
    if (syscall(SYS_move_mount, prepared_fd, "", target, "",
                MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH) != 0) {
      close(target);
      return child_fail_errno(err, "attach %s%s on %s", m.idmap ? "idmapped " : "", m.source ? m.source : "",
                              m.destination);
    }
  } else if (is_bind(m)) {
    if (mount(m.source, fd_path(proc_path, sizeof(proc_path), target), nullptr,
              MS_BIND | (flags & MS_REC), nullptr) != 0) {
      close(target);
      return child_fail_errno(err, "bind mount %s on %s", m.source ? m.source : "", m.destination);
    }
  } else if (mount(m.source ? m.source : type, fd_path(proc_path, sizeof(proc_path), target),
                   type, flags & ~MS_REC, m.data) != 0) {
    close(target);
    return child_fail_errno(err, "mount %s (type %s) on %s", m.source ? m.source : type, type,
                            m.destination);
  }
  close(target);
  bool remount = is_bind(m) && (flags & kRemountableFlags);
  if (!remount && !m.propagation && !m.recursive_readonly) return true;
  // The fd above names the directory under the new mount; reopen to reach the mount itself.
  target = open_in_root(rootfd, m.destination, false, false);
  if (target < 0) return child_fail_errno(err, "mount %s: reopen destination", m.destination);
  fd_path(proc_path, sizeof(proc_path), target);
  bool ok = true;
  if (remount && mount(nullptr, proc_path, nullptr,
                       MS_BIND | MS_REMOUNT | (flags & kRemountableFlags), nullptr) != 0) {
    ok = child_fail_errno(err, "remount %s with its options", m.destination);
  }
  if (ok && m.recursive_readonly) {
    struct mount_attr attr = {};
    attr.attr_set = MOUNT_ATTR_RDONLY;
    if (syscall(SYS_mount_setattr, target, "", AT_EMPTY_PATH | AT_RECURSIVE, &attr,
                sizeof(attr)) != 0) {
      ok = child_fail_errno(err, "make %s recursively read-only", m.destination);
    }
  }
  if (ok && m.propagation && mount(nullptr, proc_path, nullptr, m.propagation, nullptr) != 0) {
    ok = child_fail_errno(err, "set propagation of %s", m.destination);
  }
  close(target);
  return ok;
}

struct DefaultDevice {
  const char* path;
  unsigned major, minor;
};
constexpr DefaultDevice kDefaultDevices[] = {
    {"/dev/null", 1, 3},    {"/dev/zero", 1, 5},    {"/dev/full", 1, 7},
    {"/dev/random", 1, 8},  {"/dev/urandom", 1, 9}, {"/dev/tty", 5, 0},
};

// Splits "/a/b/c" into the parent fd (inside root, created) and the last name.
int open_parent_in_root(int rootfd, const char* path, const char** name) {
  char parent[4096];
  const char* slash = strrchr(path, '/');
  size_t len = slash ? static_cast<size_t>(slash - path) : 0;
  if (len >= sizeof(parent)) {
    errno = ENAMETOOLONG;
    return -1;
  }
  memcpy(parent, path, len);
  parent[len] = '\0';
  *name = slash ? slash + 1 : path;
  return open_in_root(rootfd, len ? parent : "/", true, false);
}

bool create_device(int rootfd, const char* path, mode_t mode, dev_t dev, uid_t uid, gid_t gid,
                   ChildError* err) {
  const char* name;
  int dir = open_parent_in_root(rootfd, path, &name);
  if (dir < 0) return child_fail_errno(err, "create device %s: resolve parent", path);
  bool ok = true;
  if (mknodat(dir, name, mode, dev) == 0) {
    if (fchownat(dir, name, uid, gid, AT_SYMLINK_NOFOLLOW) != 0) {
      ok = child_fail_errno(err, "chown device %s", path);
    }
  } else if (errno == EEXIST) {
    // Already there (image content or an earlier mount): keep it.
  } else {
    // mknod refused (e.g. a user namespace): bind the host's node instead.
    int fd = openat(dir, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0) {
      ok = child_fail_errno(err, "create device %s", path);
    } else {
      close(fd);
      int target = openat(dir, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
      char proc_path[40];
      if (target < 0 || mount(path, fd_path(proc_path, sizeof(proc_path), target), nullptr,
                              MS_BIND, nullptr) != 0) {
        ok = child_fail_errno(err, "bind host device %s", path);
      }
      if (target >= 0) close(target);
    }
  }
  close(dir);
  return ok;
}

bool create_devices(int rootfd, const ParsedSpec& spec, ChildError* err) {
  if (spec.default_devices) {
    for (const DefaultDevice& d : kDefaultDevices) {
      if (!create_device(rootfd, d.path, S_IFCHR | 0666, makedev(d.major, d.minor), 0, 0, err)) {
        return false;
      }
    }
    static const char* const kLinks[][2] = {
        {"pts/ptmx", "/dev/ptmx"},          {"/proc/self/fd", "/dev/fd"},
        {"/proc/self/fd/0", "/dev/stdin"},  {"/proc/self/fd/1", "/dev/stdout"},
        {"/proc/self/fd/2", "/dev/stderr"},
    };
    for (const auto& link : kLinks) {
      const char* name;
      int dir = open_parent_in_root(rootfd, link[1], &name);
      if (dir < 0) return child_fail_errno(err, "create %s: resolve parent", link[1]);
      int rc = symlinkat(link[0], dir, name);
      int saved = errno;
      close(dir);
      errno = saved;
      if (rc != 0 && errno != EEXIST) return child_fail_errno(err, "symlink %s", link[1]);
    }
  }
  for (uint32_t i = 0; i < spec.device_count; ++i) {
    const ParsedDevice& d = spec.devices[i];
    if (!create_device(rootfd, d.path, d.mode, makedev(d.major, d.minor), d.uid, d.gid, err)) {
      return false;
    }
  }
  return true;
}

// rootfs nullptr: the working directory is the rootfs already.
bool pivot_into(const char* rootfs, ChildError* err) {
  int old_root = open("/", O_DIRECTORY | O_RDONLY | O_CLOEXEC);
  if (old_root < 0) return child_fail_errno(err, "open the old root");
  if (rootfs && chdir(rootfs) != 0) return child_fail_errno(err, "chdir to rootfs %s", rootfs);
  if (!rootfs) rootfs = ".";
  if (syscall(SYS_pivot_root, ".", ".") != 0) return child_fail_errno(err, "pivot_root to %s", rootfs);
  // The old root is now stacked on "/". A lookup of "." from the new root would name the new
  // root itself (and make the container's mounts slaves, breaking bidirectional propagation), so
  // step into the old root by its fd: keep its unmount from reaching the host, then drop it.
  int rc = fchdir(old_root);
  close(old_root);
  if (rc != 0) return child_fail_errno(err, "enter the old root");
  if (mount(nullptr, ".", nullptr, MS_SLAVE | MS_REC, nullptr) != 0) {
    return child_fail_errno(err, "make the old root a slave");
  }
  if (umount2(".", MNT_DETACH) != 0) return child_fail_errno(err, "detach the old root");
  if (chdir("/") != 0) return child_fail_errno(err, "chdir /");
  return true;
}

bool mask_paths(const ParsedSpec& spec, ChildError* err) {
  for (uint32_t i = 0; i < spec.masked_path_count; ++i) {
    const char* path = spec.masked_paths[i];
    struct stat st;
    if (lstat(path, &st) != 0) {
      if (errno == ENOENT) continue;
      return child_fail_errno(err, "masked path %s", path);
    }
    int rc = S_ISDIR(st.st_mode)
                 ? mount("tmpfs", path, "tmpfs", MS_RDONLY, "size=0,mode=0555")
                 : mount("/dev/null", path, nullptr, MS_BIND, nullptr);
    if (rc != 0) return child_fail_errno(err, "mask %s", path);
  }
  for (uint32_t i = 0; i < spec.readonly_path_count; ++i) {
    const char* path = spec.readonly_paths[i];
    if (mount(path, path, nullptr, MS_BIND | MS_REC, nullptr) != 0) {
      if (errno == ENOENT) continue;
      return child_fail_errno(err, "read-only path %s", path);
    }
    if (mount(path, path, nullptr, MS_BIND | MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC,
              nullptr) != 0) {
      return child_fail_errno(err, "remount read-only path %s", path);
    }
  }
  return true;
}

// Opens a terminal in the container's devpts, hands the master to the monitor and makes the
// slave the controlling terminal and stdio.
bool setup_terminal(const ContainerInitContext& ctx, ChildError* err) {
  int master = open("/dev/ptmx", O_RDWR | O_NOCTTY | O_CLOEXEC);
  if (master < 0) return child_fail_errno(err, "open /dev/ptmx in the container (is devpts mounted at /dev/pts?)");
  int unlock = 0;
  if (ioctl(master, TIOCSPTLCK, &unlock) != 0) return child_fail_errno(err, "unlock pty");
  int slave = ioctl(master, TIOCGPTPEER, O_RDWR | O_NOCTTY | O_CLOEXEC);
  if (slave < 0) return child_fail_errno(err, "open pty slave");
  char tag[sizeof(kSyncPty)];
  memcpy(tag, kSyncPty, sizeof(kSyncPty));
  struct iovec iov = {tag, sizeof(kSyncPty) - 1};
  union {
    char buf[CMSG_SPACE(sizeof(int))];
    struct cmsghdr align;
  } control = {};
  struct msghdr msg = {};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = control.buf;
  msg.msg_controllen = sizeof(control.buf);
  struct cmsghdr* cmsg = CMSG_FIRSTHDR(&msg);
  cmsg->cmsg_level = SOL_SOCKET;
  cmsg->cmsg_type = SCM_RIGHTS;
  cmsg->cmsg_len = CMSG_LEN(sizeof(int));
  memcpy(CMSG_DATA(cmsg), &master, sizeof(int));
  if (sendmsg(ctx.sync_fd, &msg, MSG_NOSIGNAL) < 0) return child_fail_errno(err, "send pty master");
  close(master);
  if (setsid() < 0) return child_fail_errno(err, "setsid");
  if (ioctl(slave, TIOCSCTTY, 0) != 0) return child_fail_errno(err, "set controlling terminal");
  for (int fd = 0; fd < 3; ++fd) {
    if (dup2(slave, fd) < 0) return child_fail_errno(err, "dup2 terminal");
  }
  if (slave > 2) close(slave);
  return true;
}

bool setup_stdio(const ContainerInitContext& ctx, ChildError* err) {
  // dup3 onto 0..2 clears O_CLOEXEC; sources above 2 keep theirs and vanish at exec.
  int fds[3] = {ctx.stdin_fd, ctx.stdout_fd, ctx.stderr_fd};
  for (int i = 0; i < 3; ++i) {
    if (fds[i] == i) {
      fcntl(i, F_SETFD, 0);
    } else if (dup2(fds[i], i) < 0) {
      return child_fail_errno(err, "dup2 stdio");
    }
  }
  return true;
}

// Binds the rootfs (the working directory, an overlay copied from crispd's mount namespace) onto
// itself: pivot_root refuses a mount locked to its parent, which every mount copied into a less
// privileged mount namespace is. Then steps through the bundle dir onto the new mount (the bundle
// dir is 0711: the pod's root may pass it).
bool bind_rootfs_from_cwd(const ParsedSpec& spec, ChildError* err) {
  if ((spec.rootfs_propagation & MS_SHARED) && mount(nullptr, ".", nullptr, MS_PRIVATE, nullptr) != 0 &&
      errno != EINVAL) {
    return child_fail_errno(err, "make rootfs %s private", spec.rootfs);
  }
  if (mount(".", ".", nullptr, MS_BIND | MS_REC, nullptr) != 0) {
    return child_fail_errno(err, "bind rootfs %s", spec.rootfs);
  }
  const char* slash = strrchr(spec.rootfs, '/');
  char path[300];
  snprintf(path, sizeof(path), "../%s", slash ? slash + 1 : spec.rootfs);
  if (chdir(path) != 0) return child_fail_errno(err, "enter the rootfs bind %s", spec.rootfs);
  return true;
}

bool init_steps(const ContainerInitContext& ctx, ChildError* err) {
  const ParsedSpec& spec = *ctx.spec;
  const bool in_userns = ctx.userns_fd >= 0;  // joins, cgroups and oom score done by the parent
  reset_signals();
  if (!in_userns) {
    if (!join_namespace(ctx.join_net_fd, CLONE_NEWNET, "network", err) ||
        !join_namespace(ctx.join_ipc_fd, CLONE_NEWIPC, "ipc", err) ||
        !join_namespace(ctx.join_uts_fd, CLONE_NEWUTS, "uts", err)) {
      return false;
    }
    if (!join_cgroups(spec, true, err)) return false;
    apply_oom_score_adj(spec.process);
  }
  if (!spec.process.terminal && !setup_stdio(ctx, err)) return false;
  umask(0);
  if (mount(nullptr, "/", nullptr, spec.rootfs_propagation, nullptr) != 0) {
    return child_fail_errno(err, "set rootfs propagation");
  }
  int rootfd;
  if (in_userns) {
    if (!bind_rootfs_from_cwd(spec, err)) return false;
    rootfd = open(".", O_PATH | O_DIRECTORY | O_CLOEXEC);
  } else {
    // pivot_root refuses a new root whose parent mount is shared: with rshared propagation, make
    // the rootfs mount itself (crispd mounts the overlay exactly there) private, as runc does.
    // EINVAL means the rootfs is a plain directory, whose parent then must not be shared anyway.
    if ((spec.rootfs_propagation & MS_SHARED) && mount(nullptr, spec.rootfs, nullptr, MS_PRIVATE, nullptr) != 0 &&
        errno != EINVAL) {
      return child_fail_errno(err, "make rootfs %s private", spec.rootfs);
    }
    // pivot_root needs the new root to be a mount point: bind it onto itself.
    if (mount(spec.rootfs, spec.rootfs, nullptr, MS_BIND | MS_REC, nullptr) != 0) {
      return child_fail_errno(err, "bind rootfs %s", spec.rootfs);
    }
    rootfd = open(spec.rootfs, O_PATH | O_DIRECTORY | O_CLOEXEC);
  }
  if (rootfd < 0) return child_fail_errno(err, "open rootfs %s", spec.rootfs);
  for (uint32_t i = 0; i < spec.mount_count; ++i) {
    if (!do_mount(rootfd, spec.mounts[i], ctx.mount_fds ? ctx.mount_fds[i] : -1, err)) return false;
    if (ctx.mount_fds && ctx.mount_fds[i] >= 0) close(ctx.mount_fds[i]);
  }
  if (!create_devices(rootfd, spec, err)) return false;
  close(rootfd);
  if (!pivot_into(in_userns ? nullptr : spec.rootfs, err)) return false;
  if (!mask_paths(spec, err)) return false;
  if (spec.readonly_rootfs &&
      mount(nullptr, "/", nullptr, MS_BIND | MS_REMOUNT | MS_RDONLY, nullptr) != 0) {
    return child_fail_errno(err, "remount the rootfs read-only");
  }
  if (spec.hostname && spec.uts.mode == kNsNew &&
      sethostname(spec.hostname, strlen(spec.hostname)) != 0) {
    return child_fail_errno(err, "set hostname %s", spec.hostname);
  }
  if (!apply_rlimits(spec.process, err)) return false;
  if (spec.process.terminal && !setup_terminal(ctx, err)) return false;
  if (!finish_process_setup(spec.process, *ctx.seccomp, err)) return false;
  exec_process(spec.process, err);
  return false;
}

}  // namespace

int open_in_root(int rootfd, const char* path, bool create, bool last_is_file) {
  int fd = openat2_in_root(rootfd, path);
  if (fd >= 0 || errno != ENOENT || !create) return fd;
  // Walk component by component, creating what is missing under the already-resolved parent.
  char prefix[4096];
  size_t len = strlen(path);
  if (len >= sizeof(prefix)) {
    errno = ENAMETOOLONG;
    return -1;
  }
  memcpy(prefix, path, len + 1);
  int parent = -1;  // -1 = rootfd
  size_t pos = 0;
  while (pos < len) {
    while (pos < len && prefix[pos] == '/') ++pos;
    if (pos >= len) break;
    size_t end = pos;
    while (end < len && prefix[end] != '/') ++end;
    bool last = true;
    for (size_t i = end; i < len; ++i) {
      if (prefix[i] != '/') {
        last = false;
        break;
      }
    }
    char saved = prefix[end];
    prefix[end] = '\0';
    int next = openat2_in_root(rootfd, prefix);
    if (next < 0 && errno == ENOENT) {
      int dirfd = parent < 0 ? rootfd : parent;
      const char* name = prefix + pos;
      int rc;
      if (last && last_is_file) {
        int f = openat(dirfd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
        rc = f >= 0 ? 0 : -1;
        if (f >= 0) close(f);
      } else {
        rc = mkdirat(dirfd, name, 0755);
      }
      // EEXIST: a dangling symlink or a racing creator; resolving again tells which.
      next = (rc == 0 || errno == EEXIST) ? openat2_in_root(rootfd, prefix) : -1;
    }
    prefix[end] = saved;
    int saved_errno = errno;
    if (parent >= 0) close(parent);
    errno = saved_errno;
    if (next < 0) return -1;
    parent = next;
    pos = end;
  }
  if (parent < 0) return openat2_in_root(rootfd, "/");
  return parent;
}

void run_container_init(const ContainerInitContext& ctx) {
  ChildError err;
  init_steps(ctx, &err);
  fail_and_exit(ctx, err);
}

void run_container_init_in_user_namespace(const ContainerInitContext& ctx) {
  const ParsedSpec& spec = *ctx.spec;
  ChildError err;
  // As host root: what the pod's root could not do (cgroups of the host, lowering the score).
  if (!join_cgroups(spec, false, &err)) fail_and_exit(ctx, err);
  apply_oom_score_adj(spec.process);
  if (fchdir(ctx.rootfs_fd) != 0) {
    child_fail_errno(&err, "enter rootfs %s", spec.rootfs);
    fail_and_exit(ctx, err);
  }
  if (setns(ctx.userns_fd, CLONE_NEWUSER) != 0) {
    child_fail_errno(&err, "join user namespace %s", spec.user.path);
    fail_and_exit(ctx, err);
  }
  if (setgroups(0, nullptr) != 0 || setresgid(0, 0, 0) != 0 || setresuid(0, 0, 0) != 0) {
    child_fail_errno(&err, "become root of user namespace %s (is container id 0 mapped?)", spec.user.path);
    fail_and_exit(ctx, err);
  }
  if (!join_namespace(ctx.join_net_fd, CLONE_NEWNET, "network", &err) ||
      !join_namespace(ctx.join_ipc_fd, CLONE_NEWIPC, "ipc", &err) ||
      !join_namespace(ctx.join_uts_fd, CLONE_NEWUTS, "uts", &err) ||
      !join_namespace(ctx.join_pid_fd, CLONE_NEWPID, "pid", &err)) {
    fail_and_exit(ctx, err);
  }
  if (unshare(ctx.unshare_flags) != 0) {
    child_fail_errno(&err, "create the container's namespaces in user namespace %s", spec.user.path);
    fail_and_exit(ctx, err);
  }
  pid_t child = static_cast<pid_t>(syscall(SYS_clone, CLONE_PARENT | SIGCHLD, nullptr, nullptr, nullptr, nullptr));
  if (child < 0) {
    child_fail_errno(&err, "clone container init");
    fail_and_exit(ctx, err);
  }
  if (child == 0) run_container_init(ctx);
  char msg[32];
  int n = snprintf(msg, sizeof(msg), "%s%d", kSyncPid, static_cast<int>(child));
  send(ctx.sync_fd, msg, static_cast<size_t>(n), MSG_NOSIGNAL);
  _exit(0);
}

}  // namespace crisp::monitor
