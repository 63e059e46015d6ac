#include "runtime/monitor/process_setup.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/capability.h>
#include <linux/close_range.h>
#include <linux/seccomp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "runtime/monitor/util.h"

namespace crisp::monitor {

namespace {

constexpr const char* kDefaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

bool load_seccomp(const SeccompProgram& prog, ChildError* err) {
  if (!prog.filter) return true;
  struct sock_fprog fprog = {prog.length, prog.filter};
  if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &fprog) != 0) {
    return child_fail_errno(err, "attach seccomp filter");
  }
  return true;
}

bool set_capabilities(const ParsedProcess& p, ChildError* err) {
  // Bounding set first: dropping needs CAP_SETPCAP, which the user switch may take away.
  for (int cap = 0; cap < 64; ++cap) {
    if (p.cap_bounding & (1ULL << cap)) continue;
    if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) != 0) {
      if (errno == EINVAL) break;  // beyond the kernel's last capability
      return child_fail_errno(err, "drop capability %d from the bounding set", cap);
    }
  }
  if (p.uid != 0 && prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) != 0) {
    return child_fail_errno(err, "prctl(PR_SET_KEEPCAPS)");
  }
  if (setgroups(p.additional_gid_count, reinterpret_cast<gid_t*>(p.additional_gids)) != 0) {
    return child_fail_errno(err, "setgroups");
  }
  if (setresgid(p.gid, p.gid, p.gid) != 0) return child_fail_errno(err, "setgid %u", p.gid);
  if (setresuid(p.uid, p.uid, p.uid) != 0) return child_fail_errno(err, "setuid %u", p.uid);
  if (p.uid != 0) prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0);
  struct __user_cap_header_struct header = {_LINUX_CAPABILITY_VERSION_3, 0};
  struct __user_cap_data_struct data[2] = {};
  data[0].effective = static_cast<uint32_t>(p.cap_effective);
  data[1].effective = static_cast<uint32_t>(p.cap_effective >> 32);
  data[0].permitted = static_cast<uint32_t>(p.cap_permitted);
  data[1].permitted = static_cast<uint32_t>(p.cap_permitted >> 32);
  data[0].inheritable = static_cast<uint32_t>(p.cap_inheritable);
  data[1].inheritable = static_cast<uint32_t>(p.cap_inheritable >> 32);
  if (syscall(SYS_capset, &header, data) != 0) return child_fail_errno(err, "capset");
  if (p.cap_ambient) {
    for (int cap = 0; cap < 64; ++cap) {
      if (!(p.cap_ambient & (1ULL << cap))) continue;
      if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, cap, 0, 0) != 0) {
        return child_fail_errno(err, "raise ambient capability %d", cap);
      }
    }
  }
  return true;
}

}  // namespace

bool child_fail_errno(ChildError* err, const char* fmt, ...) {
  int saved = errno;
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(err->message, sizeof(err->message), fmt, ap);
  va_end(ap);
  if (n >= 0 && static_cast<size_t>(n) < sizeof(err->message)) {
    snprintf(err->message + n, sizeof(err->message) - static_cast<size_t>(n), ": %s",
             error_text(saved));
  }
  errno = saved;
  return false;
}

bool child_fail(ChildError* err, const char* fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(err->message, sizeof(err->message), fmt, ap);
  va_end(ap);
  return false;
}

bool load_seccomp_program(const char* path, SeccompProgram* out, ChildError* err) {
  size_t len = 0;
  char* data = read_whole_file(path, &len);
  if (!data) return child_fail_errno(err, "read seccomp filter %s", path);
  if (len == 0 || len % sizeof(struct sock_filter) != 0 ||
      len / sizeof(struct sock_filter) > BPF_MAXINSNS) {
    free(data);
    return child_fail(err, "seccomp filter %s is not a BPF program (%zu bytes)", path, len);
  }
  out->filter = reinterpret_cast<struct sock_filter*>(data);
  out->length = static_cast<unsigned short>(len / sizeof(struct sock_filter));
  return true;
}

void reset_signals() {
  sigset_t all;
  sigemptyset(&all);
  sigprocmask(SIG_SETMASK, &all, nullptr);
  struct sigaction dfl = {};
  dfl.sa_handler = SIG_DFL;
  for (int sig = 1; sig < NSIG; ++sig) {
    if (sig == SIGKILL || sig == SIGSTOP) continue;
    sigaction(sig, &dfl, nullptr);
  }
}

void apply_oom_score_adj(const ParsedProcess& p) {
  if (!p.has_oom_score_adj) return;
  int fd = open("/proc/self/oom_score_adj", O_RDWR | O_CLOEXEC);
  char buf[16];
  int n = snprintf(buf, sizeof(buf), "%d", p.oom_score_adj);
  if (fd >= 0 && write_all(fd, buf, static_cast<size_t>(n))) {
    close(fd);
    return;
  }
  // Lowering the score needs CAP_SYS_RESOURCE, which the host may withhold even from root: keep
  // the inherited value (the closest allowed one) and carry on.
  int err = errno;
  ssize_t got = fd >= 0 ? pread(fd, buf, sizeof(buf) - 1, 0) : -1;
  buf[got > 0 ? got : 0] = '\0';
  log_message("warning: cannot set oom_score_adj %d (%s); keeping %s", p.oom_score_adj,
              error_text(err), got > 0 ? strtok(buf, "\n") : "the inherited value");
  if (fd >= 0) close(fd);
}

bool apply_rlimits(const ParsedProcess& p, ChildError* err) {
  for (uint32_t i = 0; i < p.rlimit_count; ++i) {
    struct rlimit rl = {p.rlimits[i].soft, p.rlimits[i].hard};
    if (setrlimit(static_cast<__rlimit_resource>(p.rlimits[i].resource), &rl) != 0) {
      return child_fail_errno(err, "setrlimit %d", p.rlimits[i].resource);
    }
  }
  return true;
}

bool finish_process_setup(const ParsedProcess& p, const SeccompProgram& seccomp,
                          ChildError* err) {
  if (!p.no_new_privs && !load_seccomp(seccomp, err)) return false;
  if (!set_capabilities(p, err)) return false;
  if (p.no_new_privs && prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) {
    return child_fail_errno(err, "prctl(PR_SET_NO_NEW_PRIVS)");
  }
  if (chdir(p.cwd) != 0) return child_fail_errno(err, "chdir to cwd %s", p.cwd);
  umask(022);
  if (syscall(SYS_close_range, 3U, ~0U, CLOSE_RANGE_CLOEXEC) != 0) {
    // Old kernels: mark each fd by hand.
    for (int fd = 3; fd < 1024; ++fd) fcntl(fd, F_SETFD, FD_CLOEXEC);
  }
  // Seccomp last: the filter then only has to allow execve (and the failed-exec path).
  if (p.no_new_privs && !load_seccomp(seccomp, err)) return false;
  return true;
}

void exec_process(const ParsedProcess& p, ChildError* err) {
  const char* file = p.args[0];
  if (file[0] == '\0') {
    err->exit_code = 127;
    child_fail(err, "exec: empty command");
    return;
  }
  if (strchr(file, '/')) {
    execve(file, p.args, p.env);
    err->exit_code = errno == ENOENT ? 127 : 126;
    child_fail_errno(err, "exec \"%s\"", file);
    return;
  }
  const char* path = kDefaultPath;
  for (uint32_t i = 0; i < p.env_count; ++i) {
    if (strncmp(p.env[i], "PATH=", 5) == 0) path = p.env[i] + 5;
  }
  int saved = ENOENT;
  char candidate[4096];
  size_t file_len = strlen(file);
  for (const char* dir = path;;) {
    const char* colon = strchr(dir, ':');
    size_t dir_len = colon ? static_cast<size_t>(colon - dir) : strlen(dir);
    if (dir_len + 1 + file_len + 1 <= sizeof(candidate)) {
      size_t n = 0;
      if (dir_len == 0) {
        candidate[n++] = '.';
      } else {
        memcpy(candidate, dir, dir_len);
        n = dir_len;
      }
      candidate[n++] = '/';
      memcpy(candidate + n, file, file_len + 1);
      execve(candidate, p.args, p.env);
      if (errno != ENOENT && errno != ENOTDIR) {
        saved = errno;
        if (errno != EACCES) break;  // found but not runnable (e.g. ENOEXEC): stop here
      }
    }
    if (!colon) break;
    dir = colon + 1;
  }
  if (saved == ENOENT) {
    err->exit_code = 127;
    child_fail(err, "exec \"%s\": executable file not found in $PATH (%s)", file, path);
  } else {
    err->exit_code = 126;
    errno = saved;
    child_fail_errno(err, "exec \"%s\"", file);
  }
}

}  // namespace crisp::monitor
