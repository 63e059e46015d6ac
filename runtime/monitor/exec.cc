// `crisp-monitor exec --pid <pid> [--tty] [--winsize RxC] [--resize-fd n] [--spec <file>]
// -- argv...`: runs a process inside a running container (protocol.h).
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/capability.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include "runtime/monitor/process_setup.h"
#include "runtime/monitor/run.h"
#include "runtime/monitor/spec_parse.h"
#include "runtime/monitor/util.h"

namespace crisp::monitor {

namespace {

[[noreturn]] void exec_fail(int code, const char* fmt, ...) __attribute__((format(printf, 2, 3)));
void exec_fail(int code, const char* fmt, ...) {
  char buf[700];
  int n = snprintf(buf, sizeof(buf), "crisp-monitor exec: ");
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(buf + n, sizeof(buf) - static_cast<size_t>(n) - 1, fmt, ap);
  va_end(ap);
  size_t len = strlen(buf);
  buf[len++] = '\n';
  write_all(2, buf, len);
  _exit(code);
}

// Moves this process into the cgroups of pid (cgroup v1 and v2 paths under /sys/fs/cgroup).
// Best effort: a cgroup we cannot join only costs accounting, so failures are ignored.
void join_cgroups_of(pid_t pid) {
  char path[64];
  snprintf(path, sizeof(path), "/proc/%d/cgroup", static_cast<int>(pid));
  size_t len = 0;
  char* text = read_whole_file(path, &len);
  if (!text) return;
  char self[24];
  int self_len = snprintf(self, sizeof(self), "%d", static_cast<int>(getpid()));
  for (char* line = strtok(text, "\n"); line; line = strtok(nullptr, "\n")) {
    // "<id>:<controllers>:<path>"
    char* c1 = strchr(line, ':');
    char* c2 = c1 ? strchr(c1 + 1, ':') : nullptr;
    if (!c2) continue;
    *c1 = *c2 = '\0';
    const char* controllers = c1 + 1;
    const char* cg_path = c2 + 1;
    if (strncmp(controllers, "name=", 5) == 0) controllers += 5;
    char procs[4096];
    if (*controllers == '\0') {
      snprintf(procs, sizeof(procs), "/sys/fs/cgroup%s/cgroup.procs", cg_path);
    } else {
      snprintf(procs, sizeof(procs), "/sys/fs/cgroup/%s%s/cgroup.procs", controllers, cg_path);
    }
    int fd = open(procs, O_WRONLY | O_CLOEXEC);
    if (fd >= 0) {
      write_all(fd, self, static_cast<size_t>(self_len));
      close(fd);
    }
  }
  free(text);
}

const char* const kDefaultEnv[] = {
    "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", nullptr};

}  // namespace

int exec_main(int argc, char** argv) {
  pid_t target = 0;
  bool tty = false;
  unsigned rows = 0, cols = 0;
  int resize_fd = -1;  // optional: "<rows> <cols>\n" lines resize the terminal
  const char* spec_path = nullptr;
  int cmd_index = -1;
  for (int i = 0; i < argc; ++i) {
    if (strcmp(argv[i], "--pid") == 0 && i + 1 < argc) {
      target = atoi(argv[++i]);
    } else if (strcmp(argv[i], "--tty") == 0) {
      tty = true;
    } else if (strcmp(argv[i], "--resize-fd") == 0 && i + 1 < argc) {
      resize_fd = atoi(argv[++i]);
      if (resize_fd < 3 || fcntl(resize_fd, F_SETFD, FD_CLOEXEC) != 0) {
        exec_fail(126, "--resize-fd %s is not an open descriptor above 2", argv[i]);
      }
    } else if (strcmp(argv[i], "--winsize") == 0 && i + 1 < argc) {
      if (!parse_two_numbers(argv[++i], 'x', &rows, &cols)) {
        exec_fail(126, "bad --winsize %s (want <rows>x<cols>)", argv[i]);
      }
    } else if (strcmp(argv[i], "--spec") == 0 && i + 1 < argc) {
      spec_path = argv[++i];
    } else if (strcmp(argv[i], "--") == 0) {
      cmd_index = i + 1;
      break;
    } else {
      exec_fail(126, "unknown argument %s (usage: exec --pid <pid> [--tty] [--winsize RxC] "
                     "[--resize-fd <n>] [--spec <file>] -- argv...)", argv[i]);
    }
  }
  if (target <= 0) exec_fail(126, "--pid <container-pid> is required");

  ParsedSpec spec;
  memset(&spec, 0, sizeof(spec));
  ParsedProcess& proc = spec.process;
  proc.cwd = "/";
  proc.env = const_cast<char**>(kDefaultEnv);
  proc.env_count = 1;
  {
    // Without a spec keep the capabilities we have (as a root shell in the container would).
    struct __user_cap_header_struct header = {_LINUX_CAPABILITY_VERSION_3, 0};
    struct __user_cap_data_struct data[2] = {};
    syscall(SYS_capget, &header, data);
    proc.cap_effective = data[0].effective | (uint64_t{data[1].effective} << 32);
    proc.cap_permitted = data[0].permitted | (uint64_t{data[1].permitted} << 32);
    proc.cap_inheritable = data[0].inheritable | (uint64_t{data[1].inheritable} << 32);
    proc.cap_bounding = proc.cap_permitted;
    for (int cap = 0; cap < 64; ++cap) {
      int in_bounding = prctl(PR_CAPBSET_READ, cap, 0, 0, 0);
      if (in_bounding < 0) break;
      if (in_bounding) proc.cap_bounding |= 1ULL << cap;
    }
  }
  if (spec_path) {
    size_t len = 0;
    char* text = read_whole_file(spec_path, &len);
    if (!text) exec_fail(126, "read process spec %s: %s", spec_path, error_text(errno));
    char err[512];
    if (!parse_spec(text, len, true, &spec, err, sizeof(err)) &&
        !(strstr(err, "no \"arg\"") && cmd_index >= 0 && cmd_index < argc)) {
      exec_fail(126, "process spec %s: %s", spec_path, err);
    }
  }
  if (cmd_index >= 0 && cmd_index < argc) {
    proc.args = argv + cmd_index;
    proc.arg_count = static_cast<uint32_t>(argc - cmd_index);
  }
  if (proc.arg_count == 0) exec_fail(126, "no command given");
  tty = tty || proc.terminal;

  SeccompProgram seccomp;
  ChildError cerr;
  if (proc.seccomp_bpf_path && !load_seccomp_program(proc.seccomp_bpf_path, &seccomp, &cerr)) {
    exec_fail(126, "%s", cerr.message);
  }

  // Open every namespace first: /proc/<pid> is only reachable before we enter the mount ns.
  static const struct {
    const char* name;
    int type;
  } kNamespaces[] = {{"cgroup", CLONE_NEWCGROUP}, {"ipc", CLONE_NEWIPC}, {"uts", CLONE_NEWUTS},
                     {"net", CLONE_NEWNET},       {"pid", CLONE_NEWPID}, {"mnt", CLONE_NEWNS}};
  int ns_fds[6];
  for (int i = 0; i < 6; ++i) {
    char path[64];
    snprintf(path, sizeof(path), "/proc/%d/ns/%s", static_cast<int>(target), kNamespaces[i].name);
    ns_fds[i] = open(path, O_RDONLY | O_CLOEXEC);
    if (ns_fds[i] < 0) {
      exec_fail(126, "open %s namespace of pid %d: %s", kNamespaces[i].name,
                static_cast<int>(target), error_text(errno));
    }
  }
  // A container of a pod with a user namespace: join it last (the other namespaces are owned by
  // it or by ours, and joining it drops every capability outside it).
  int userns_fd = -1;
  {
    char path[64];
    snprintf(path, sizeof(path), "/proc/%d/ns/user", static_cast<int>(target));
    userns_fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat theirs, ours;
    if (userns_fd < 0 || fstat(userns_fd, &theirs) != 0 || stat("/proc/self/ns/user", &ours) != 0) {
      exec_fail(126, "open user namespace of pid %d: %s", static_cast<int>(target), error_text(errno));
    }
    if (theirs.st_ino == ours.st_ino && theirs.st_dev == ours.st_dev) {
      close(userns_fd);
      userns_fd = -1;
    }
  }
  join_cgroups_of(target);
  for (int i = 0; i < 6; ++i) {
    if (setns(ns_fds[i], kNamespaces[i].type) != 0) {
      exec_fail(126, "join %s namespace of pid %d: %s", kNamespaces[i].name,
                static_cast<int>(target), error_text(errno));
    }
    close(ns_fds[i]);
  }
  if (userns_fd >= 0) {
    if (setns(userns_fd, CLONE_NEWUSER) != 0) {
      exec_fail(126, "join user namespace of pid %d: %s", static_cast<int>(target), error_text(errno));
    }
    close(userns_fd);
  }

  int master = -1, slave = -1;
  if (tty) {
    // Now in the container's mount namespace: this is its devpts.
    master = open("/dev/ptmx", O_RDWR | O_NOCTTY | O_CLOEXEC);
    int unlock = 0;
    if (master < 0 || ioctl(master, TIOCSPTLCK, &unlock) != 0) {
      exec_fail(126, "open /dev/ptmx in the container: %s", error_text(errno));
    }
    if (rows && cols) {
      struct winsize ws = {};
      ws.ws_row = static_cast<unsigned short>(rows);
      ws.ws_col = static_cast<unsigned short>(cols);
      ioctl(master, TIOCSWINSZ, &ws);
    }
    slave = ioctl(master, TIOCGPTPEER, O_RDWR | O_NOCTTY | O_CLOEXEC);
    if (slave < 0) exec_fail(126, "open pty slave: %s", error_text(errno));
  }

  sigset_t mask;
  sigemptyset(&mask);
  sigaddset(&mask, SIGCHLD);
  sigaddset(&mask, SIGTERM);
  sigaddset(&mask, SIGINT);
  sigaddset(&mask, SIGHUP);
  sigprocmask(SIG_BLOCK, &mask, nullptr);
  signal(SIGPIPE, SIG_IGN);
  int sfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
  int errpipe[2];
  if (sfd < 0 || pipe2(errpipe, O_CLOEXEC) != 0) exec_fail(126, "setup: %s", error_text(errno));

  pid_t child = fork();  // the child is the first of us inside the pid namespace
  if (child < 0) exec_fail(126, "fork: %s", error_text(errno));
  if (child == 0) {
    close(errpipe[0]);
    reset_signals();
    ChildError err;
    bool ok = true;
    if (tty) {
      ok = setsid() >= 0 && ioctl(slave, TIOCSCTTY, 0) == 0 && dup2(slave, 0) == 0 &&
           dup2(slave, 1) == 1 && dup2(slave, 2) == 2;
      if (!ok) child_fail_errno(&err, "set up the terminal");
    }
    if (ok) {
      apply_oom_score_adj(proc);
      if (apply_rlimits(proc, &err) && finish_process_setup(proc, seccomp, &err)) {
        // Die with the exec helper (crispd kills it on an ExecSync timeout). Set after the
        // credential change, which clears it; best effort if a seccomp profile denies prctl.
        prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
        exec_process(proc, &err);
      }
    }
    char buf[sizeof(err.message) + 8];
    int n = snprintf(buf, sizeof(buf), "%d %s", err.exit_code, err.message);
    write_all(errpipe[1], buf, static_cast<size_t>(n));
    _exit(err.exit_code);
  }
  close(errpipe[1]);
  if (slave >= 0) close(slave);
  char msg[600];
  size_t got = 0;
  for (;;) {
    ssize_t n = read(errpipe[0], msg + got, sizeof(msg) - 1 - got);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    got += static_cast<size_t>(n);
  }
  close(errpipe[0]);
  if (got > 0) {
    msg[got] = '\0';
    waitpid(child, nullptr, 0);
    char* space = strchr(msg, ' ');
    exec_fail(atoi(msg), "%s", space ? space + 1 : msg);
  }

  // Relay (terminal only) and wait. Without a terminal the child uses our stdio directly.
  bool stdin_open = tty;
  bool master_open = tty;
  int status = 0;
  bool reaped = false;
  char buf[8192];
  while (!reaped || master_open) {
    struct pollfd fds[4] = {{sfd, POLLIN, 0},
                            {stdin_open ? 0 : -1, POLLIN, 0},
                            {master_open ? master : -1, POLLIN, 0},
                            {tty ? resize_fd : -1, POLLIN, 0}};
    if (reaped) {
      // Child gone: drain the terminal without blocking, then leave.
      fcntl(master, F_SETFL, O_NONBLOCK);
      ssize_t n = read(master, buf, sizeof(buf));
      if (n > 0) {
        write_all(1, buf, static_cast<size_t>(n));
        continue;
      }
      break;
    }
    if (poll(fds, 4, -1) < 0) continue;
    if (fds[3].revents) {
      char line[64];
      ssize_t n = read(resize_fd, line, sizeof(line) - 1);
      if (n <= 0) {
        resize_fd = -1;
      } else {
        // One or more "<rows> <cols>\n" lines; the last complete one wins.
        line[n] = '\0';
        char* save = nullptr;
        for (char* l = strtok_r(line, "\n", &save); l; l = strtok_r(nullptr, "\n", &save)) {
          struct winsize ws = {};
          unsigned r = 0, c = 0;
          if (!parse_two_numbers(l, ' ', &r, &c)) continue;
          ws.ws_row = static_cast<unsigned short>(r);
          ws.ws_col = static_cast<unsigned short>(c);
          ioctl(master, TIOCSWINSZ, &ws);
        }
      }
    }
    if (fds[0].revents) {
      struct signalfd_siginfo si;
      while (read(sfd, &si, sizeof(si)) == sizeof(si)) {
        if (si.ssi_signo != SIGCHLD) kill(child, static_cast<int>(si.ssi_signo));
      }
      if (waitpid(child, &status, WNOHANG) == child) reaped = true;
    }
    if (fds[1].revents) {
      ssize_t n = read(0, buf, sizeof(buf));
      if (n > 0) {
        write_all(master, buf, static_cast<size_t>(n));
      } else {
        stdin_open = false;
        char eof = 4;  // ^D: the terminal's end of input
        write_all(master, &eof, 1);
      }
    }
    if (fds[2].revents) {
      ssize_t n = read(master, buf, sizeof(buf));
      if (n > 0) {
        if (!write_all(1, buf, static_cast<size_t>(n))) stdin_open = false;
      } else {
        master_open = false;  // EIO: every slave is closed
      }
    }
  }
  if (!reaped) waitpid(child, &status, 0);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return WEXITSTATUS(status);
}

}  // namespace crisp::monitor
