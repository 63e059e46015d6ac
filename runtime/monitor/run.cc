// `crisp-monitor run <bundle> --sync-fd <n>`: starts the container described by <bundle>/spec and
// babysits it (protocol.h): relays its output into the CRI log, serves the control socket, reaps,
// writes the pid and exit files.
#include "runtime/monitor/run.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/mount.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include "runtime/monitor/container_init.h"
#include "runtime/monitor/cri_log.h"
#include "runtime/monitor/spec_parse.h"
#include "runtime/monitor/util.h"

namespace crisp::monitor {

namespace {

constexpr int kMaxClients = 8;
constexpr size_t kCommandMax = 128;

// One connection on the control socket: a command line being read, or an attached stream.
struct Client {
  int fd = -1;
  bool attached = false;
  char line[kCommandMax];
  size_t line_len = 0;
  // Frame parser state (attached clients -> stdin).
  unsigned char header[5];
  size_t header_len = 0;
  uint32_t payload_left = 0;
  unsigned char payload_stream = 0;
};

// Everything the monitor owns; one instance, lives until exit.
struct Monitor {
  ParsedSpec spec;
  const char* pid_file = nullptr;
  const char* exit_file = nullptr;
  char control_path[108] = {};
  bool control_created = false;  // the socket file is ours to remove
  int sync_fd = -1;
  int signal_fd = -1;
  int listen_fd = -1;
  int stdin_w = -1;     // container stdin (pipe write end); -1 when closed/none
  int out_fd = -1;      // stdout pipe read end, or the pty master
  int err_fd = -1;      // stderr pipe read end; -1 with a terminal
  int pty_master = -1;  // == out_fd with a terminal
  pid_t container = 0;
  bool exited = false;
  int exit_status = 0;
  int64_t started_at = 0;
  CriLog log;
  CriLogStream out_stream, err_stream;
  Client clients[kMaxClients];
};

// The one monitor of this process (namespace scope: constant-initialised, no guard variable).
Monitor g_monitor;

void report(Monitor* m, const char* fmt, ...) __attribute__((format(printf, 2, 3)));
void report(Monitor* m, const char* fmt, ...) {
  if (m->sync_fd < 0) return;
  char buf[1024];
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(buf, sizeof(buf) - 1, fmt, ap);
  va_end(ap);
  size_t len = n < 0 ? 0 : (static_cast<size_t>(n) > sizeof(buf) - 2 ? sizeof(buf) - 2 : static_cast<size_t>(n));
  for (size_t i = 0; i < len; ++i) {
    if (buf[i] == '\n') buf[i] = ' ';
  }
  buf[len++] = '\n';
  write_all(m->sync_fd, buf, len);
  close(m->sync_fd);
  m->sync_fd = -1;
}

[[noreturn]] void fail(Monitor* m, const char* fmt, ...) __attribute__((format(printf, 2, 3)));
void fail(Monitor* m, const char* fmt, ...) {
  char buf[900];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(buf, sizeof(buf), fmt, ap);
  va_end(ap);
  log_message("%s", buf);
  report(m, "error %s", buf);
  if (m->control_created) unlink(m->control_path);
  _exit(1);
}

int open_namespace(Monitor* m, const ParsedNamespace& ns, const char* what) {
  if (ns.mode != kNsJoin) return -1;
  int fd = open(ns.path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) fail(m, "open %s namespace %s: %s", what, ns.path, error_text(errno));
  return fd;
}

// User namespace mode: a detached clone (open_tree) of every bind's source, made as host root
// (the pod's root may not reach crispd's state dir), idmapped with the pod's user namespace
// when the mount asks for it. -1 for other mounts.
int* prepare_mount_fds(Monitor* m, const ParsedSpec& spec, int userns_fd) {
  int* fds = static_cast<int*>(calloc(spec.mount_count + 1, sizeof(int)));
  if (!fds) fail(m, "out of memory");
  for (uint32_t i = 0; i < spec.mount_count; ++i) {
    const ParsedMount& mnt = spec.mounts[i];
    fds[i] = -1;
    if (!(mnt.flags & MS_BIND) || !mnt.source) continue;
    bool recursive = (mnt.flags & MS_REC) != 0;
    int fd = static_cast<int>(syscall(SYS_open_tree, AT_FDCWD, mnt.source,
                                      OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | (recursive ? AT_RECURSIVE : 0)));
    if (fd < 0) fail(m, "mount %s: clone bind source %s: %s", mnt.destination, mnt.source, error_text(errno));
    if (mnt.idmap) {
      struct mount_attr attr = {};
      attr.attr_set = MOUNT_ATTR_IDMAP;
      attr.userns_fd = static_cast<uint64_t>(userns_fd);
      if (syscall(SYS_mount_setattr, fd, "", AT_EMPTY_PATH | (recursive ? AT_RECURSIVE : 0), &attr,
                  sizeof(attr)) != 0) {
        fail(m, "mount %s: idmapped mount of %s refused by the kernel: %s", mnt.destination, mnt.source,
             error_text(errno));
      }
    }
    fds[i] = fd;
  }
  return fds;
}

void make_control_socket(Monitor* m) {
  m->listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (m->listen_fd < 0) fail(m, "control socket: %s", error_text(errno));
  struct sockaddr_un addr = {};
  addr.sun_family = AF_UNIX;
  memcpy(addr.sun_path, m->control_path, strlen(m->control_path) + 1);
  // A socket that still answers belongs to a live monitor: never steal it.
  if (connect(m->listen_fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0) {
    fail(m, "a monitor is already running for %s", m->control_path);
  }
  close(m->listen_fd);
  m->listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (m->listen_fd < 0) fail(m, "control socket: %s", error_text(errno));
  unlink(m->control_path);
  if (bind(m->listen_fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 ||
      listen(m->listen_fd, 8) != 0) {
    fail(m, "control socket %s: %s", m->control_path, error_text(errno));
  }
  m->control_created = true;
  chmod(m->control_path, 0600);
}

// Receives the child's messages until EOF (exec succeeded) or an error report.
void await_exec(Monitor* m, int sync) {
  for (;;) {
    char buf[600];
    struct iovec iov = {buf, sizeof(buf) - 1};
    union {
      char buf[CMSG_SPACE(sizeof(int))];
      struct cmsghdr align;
    } control;
    struct msghdr msg = {};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control.buf;
    msg.msg_controllen = sizeof(control.buf);
    ssize_t n = recvmsg(sync, &msg, MSG_CMSG_CLOEXEC);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) fail(m, "read from the container init: %s", error_text(errno));
    if (n == 0) return;
    buf[n] = '\0';
    struct cmsghdr* cmsg = CMSG_FIRSTHDR(&msg);
    if (cmsg && cmsg->cmsg_type == SCM_RIGHTS) {
      memcpy(&m->pty_master, CMSG_DATA(cmsg), sizeof(int));
      m->out_fd = m->pty_master;
      continue;
    }
    if (strncmp(buf, kSyncPid, strlen(kSyncPid)) == 0) {
      // User namespace mode: the container init is a sibling made by our child, which now exits.
      m->container = static_cast<pid_t>(atoi(buf + strlen(kSyncPid)));
      continue;
    }
    if (strncmp(buf, kSyncError, strlen(kSyncError)) == 0) {
      waitpid(m->container, nullptr, 0);
      fail(m, "%s", buf + strlen(kSyncError));
    }
  }
}

void write_pid_file(Monitor* m, uint64_t start_time) {
  char buf[200];
  int n = snprintf(buf, sizeof(buf), "pid %d\nstart_time %llu\nmonitor_pid %d\nmonitor_start_time %llu\n",
                   static_cast<int>(m->container), static_cast<unsigned long long>(start_time),
                   static_cast<int>(getpid()),
                   static_cast<unsigned long long>(process_start_time(getpid())));
  // No fsync: it is on the start path, and after a power loss the pid means nothing anyway.
  if (!atomic_write(m->pid_file, buf, static_cast<size_t>(n), false)) {
    log_message("write pid file %s: %s", m->pid_file, error_text(errno));
  }
}

void write_exit_file(Monitor* m) {
  int sig = WIFSIGNALED(m->exit_status) ? WTERMSIG(m->exit_status) : 0;
  int code = sig ? 128 + sig : WEXITSTATUS(m->exit_status);
  char buf[200];
  int n = snprintf(buf, sizeof(buf), "exit_code %d\nsignal %d\nstarted_at %lld\nfinished_at %lld\n",
                   code, sig, static_cast<long long>(m->started_at),
                   static_cast<long long>(unix_time_ns()));
  if (!atomic_write(m->exit_file, buf, static_cast<size_t>(n), true)) {
    log_message("write exit file %s: %s", m->exit_file, error_text(errno));
  }
}

void close_stdin(Monitor* m) {
  if (m->stdin_w >= 0 && m->stdin_w != m->pty_master) close(m->stdin_w);
  m->stdin_w = -1;
}

void drop_client(Monitor* m, Client* c) {
  bool was_attached = c->attached;
  close(c->fd);
  c->fd = -1;
  c->attached = false;
  c->line_len = c->header_len = 0;
  c->payload_left = 0;
  if (was_attached && m->spec.process.stdin_once) close_stdin(m);
}

void reply(Client* c, const char* text) { send(c->fd, text, strlen(text), MSG_NOSIGNAL); }

// Copies container output to attached clients (stream 1 = stdout, 2 = stderr).
void broadcast(Monitor* m, unsigned char stream, const char* data, size_t len) {
  for (Client& c : m->clients) {
    if (c.fd < 0 || !c.attached) continue;
    unsigned char header[5] = {stream, static_cast<unsigned char>(len >> 24),
                               static_cast<unsigned char>(len >> 16),
                               static_cast<unsigned char>(len >> 8),
                               static_cast<unsigned char>(len)};
    struct iovec iov[2] = {{header, 5}, {const_cast<char*>(data), len}};
    struct msghdr msg = {};
    msg.msg_iov = iov;
    msg.msg_iovlen = 2;
    ssize_t n = sendmsg(c.fd, &msg, MSG_NOSIGNAL | MSG_DONTWAIT);
    // A client that cannot keep up is dropped rather than stalling the container's output.
    if (n != static_cast<ssize_t>(len + 5)) drop_client(m, &c);
  }
}

void handle_command(Monitor* m, Client* c, char* line) {
  if (strcmp(line, "reopen-log") == 0) {
    if (m->log.reopen()) {
      reply(c, "ok\n");
    } else {
      char buf[300];
      reply(c, format(buf, sizeof(buf), "error reopen %s: %s\n", m->spec.log_path,
                      error_text(errno)));
    }
  } else if (strncmp(line, "signal ", 7) == 0) {
    char* end = nullptr;
    long sig = strtol(line + 7, &end, 10);
    if (*end || sig <= 0 || sig >= NSIG) {
      reply(c, "error bad signal number\n");
    } else if (m->exited) {
      reply(c, "error container has exited\n");
    } else if (kill(m->container, static_cast<int>(sig)) != 0) {
      char buf[128];
      reply(c, format(buf, sizeof(buf), "error kill: %s\n", error_text(errno)));
    } else {
      reply(c, "ok\n");
    }
  } else if (strncmp(line, "resize ", 7) == 0) {
    unsigned rows = 0, cols = 0;
    if (!parse_two_numbers(line + 7, ' ', &rows, &cols)) {
      reply(c, "error usage: resize <rows> <cols>\n");
    } else if (m->pty_master < 0) {
      reply(c, "error container has no terminal\n");
    } else {
      struct winsize ws = {};
      ws.ws_row = static_cast<unsigned short>(rows);
      ws.ws_col = static_cast<unsigned short>(cols);
      if (ioctl(m->pty_master, TIOCSWINSZ, &ws) != 0) {
        char buf[128];
        reply(c, format(buf, sizeof(buf), "error resize: %s\n", error_text(errno)));
      } else {
        reply(c, "ok\n");
      }
    }
  } else if (strcmp(line, "attach") == 0) {
    reply(c, "ok\n");
    c->attached = true;
    return;
  } else {
    reply(c, "error unknown command\n");
  }
  drop_client(m, c);
}

// Attached client -> container stdin frames.
void handle_attach_input(Monitor* m, Client* c, const unsigned char* data, size_t len) {
  while (len > 0) {
    if (c->payload_left == 0) {
      c->header[c->header_len++] = *data++;
      --len;
      if (c->header_len < 5) continue;
      c->header_len = 0;
      c->payload_stream = c->header[0];
      c->payload_left = (uint32_t{c->header[1]} << 24) | (uint32_t{c->header[2]} << 16) |
                        (uint32_t{c->header[3]} << 8) | c->header[4];
      if (c->payload_left == 0 && c->payload_stream == 0) close_stdin(m);
      continue;
    }
    size_t chunk = len < c->payload_left ? len : c->payload_left;
    if (c->payload_stream == 0 && m->stdin_w >= 0 && m->spec.process.stdin) {
      write_all(m->stdin_w, data, chunk);
    }
    data += chunk;
    len -= chunk;
    c->payload_left -= static_cast<uint32_t>(chunk);
  }
}

void handle_client(Monitor* m, Client* c) {
  char buf[4096];
  ssize_t n = read(c->fd, buf, sizeof(buf));
  if (n < 0 && (errno == EINTR || errno == EAGAIN)) return;
  if (n <= 0) {
    drop_client(m, c);
    return;
  }
  if (c->attached) {
    handle_attach_input(m, c, reinterpret_cast<unsigned char*>(buf), static_cast<size_t>(n));
    return;
  }
  for (ssize_t i = 0; i < n; ++i) {
    if (buf[i] == '\n') {
      c->line[c->line_len] = '\0';
      c->line_len = 0;
      handle_command(m, c, c->line);
      if (c->fd < 0) return;
      if (c->attached) {
        handle_attach_input(m, c, reinterpret_cast<unsigned char*>(buf + i + 1),
                            static_cast<size_t>(n - i - 1));
        return;
      }
    } else if (c->line_len + 1 >= kCommandMax) {
      reply(c, "error command too long\n");
      drop_client(m, c);
      return;
    } else {
      c->line[c->line_len++] = buf[i];
    }
  }
}

void accept_client(Monitor* m) {
  int fd = accept4(m->listen_fd, nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK);
  if (fd < 0) return;
  for (Client& c : m->clients) {
    if (c.fd < 0) {
      c.fd = fd;
      return;
    }
  }
  send(fd, "error too many clients\n", 23, MSG_NOSIGNAL);
  close(fd);
}

// Reads what is available from one output fd; false at EOF (or EIO: the pty's last slave closed).
bool pump_output(Monitor* m, int fd, CriLogStream* s, unsigned char stream) {
  size_t room;
  char* dst = m->log.tail(s, &room);
  ssize_t n = read(fd, dst, room);
  if (n < 0 && (errno == EINTR || errno == EAGAIN)) return true;
  if (n <= 0) {
    m->log.flush(s, unix_time_ns());
    return false;
  }
  broadcast(m, stream, dst, static_cast<size_t>(n));
  m->log.commit(s, static_cast<size_t>(n), unix_time_ns());
  return true;
}

void reap(Monitor* m) {
  for (;;) {
    int status;
    pid_t pid = waitpid(-1, &status, WNOHANG);
    if (pid <= 0) return;
    if (pid == m->container) {
      m->exited = true;
      m->exit_status = status;
    }
  }
}

void handle_signals(Monitor* m) {
  struct signalfd_siginfo si[8];
  ssize_t n = read(m->signal_fd, si, sizeof(si));
  if (n <= 0) return;
  for (size_t i = 0; i < static_cast<size_t>(n) / sizeof(si[0]); ++i) {
    int sig = static_cast<int>(si[i].ssi_signo);
    if (sig == SIGCHLD) {
      reap(m);
    } else if (!m->exited && (sig == SIGTERM || sig == SIGINT)) {
      kill(m->container, sig);  // the monitor stays until its container is gone
    }
  }
}

[[noreturn]] void finish(Monitor* m) {
  // Everything the container wrote before exiting is in the pipes: drain without blocking
  // (a process outside the container's pid namespace might keep a write end open).
  int64_t now = unix_time_ns();
  if (m->out_fd >= 0) {
    fcntl(m->out_fd, F_SETFL, O_NONBLOCK);
    errno = 0;
    while (pump_output(m, m->out_fd, &m->out_stream, 1)) {
      if (errno == EAGAIN) break;
      errno = 0;
    }
    m->log.flush(&m->out_stream, now);
  }
  if (m->err_fd >= 0) {
    fcntl(m->err_fd, F_SETFL, O_NONBLOCK);
    errno = 0;
    while (pump_output(m, m->err_fd, &m->err_stream, 2)) {
      if (errno == EAGAIN) break;
      errno = 0;
    }
    m->log.flush(&m->err_stream, now);
  }
  write_exit_file(m);
  unlink(m->control_path);
  _exit(0);
}

void monitor_loop(Monitor* m) {
  for (;;) {
    struct pollfd fds[4 + kMaxClients];
    int n = 0;
    fds[n++] = {m->signal_fd, POLLIN, 0};
    fds[n++] = {m->listen_fd, POLLIN, 0};
    int out_index = m->out_fd >= 0 ? n : -1;
    if (m->out_fd >= 0) fds[n++] = {m->out_fd, POLLIN, 0};
    int err_index = m->err_fd >= 0 ? n : -1;
    if (m->err_fd >= 0) fds[n++] = {m->err_fd, POLLIN, 0};
    int first_client = n;
    for (const Client& c : m->clients) fds[n++] = {c.fd, POLLIN, 0};
    if (poll(fds, static_cast<nfds_t>(n), -1) < 0) {
      if (errno == EINTR) continue;
      log_message("poll: %s", error_text(errno));
      sleep(1);
      continue;
    }
    if (fds[0].revents) handle_signals(m);
    if (m->exited) finish(m);
    if (out_index >= 0 && fds[out_index].revents) {
      errno = 0;
      if (!pump_output(m, m->out_fd, &m->out_stream, 1)) {
        if (m->out_fd != m->pty_master) close(m->out_fd);
        m->out_fd = -1;  // the pty master stays open for resize/stdin
      }
    }
    if (err_index >= 0 && fds[err_index].revents) {
      if (!pump_output(m, m->err_fd, &m->err_stream, 2)) {
        close(m->err_fd);
        m->err_fd = -1;
      }
    }
    if (fds[1].revents) accept_client(m);
    for (int i = 0; i < kMaxClients; ++i) {
      Client& c = m->clients[i];
      if (c.fd >= 0 && fds[first_client + i].fd == c.fd && fds[first_client + i].revents) {
        handle_client(m, &c);
      }
    }
  }
}

void usage() {
  log_message("usage: crisp-monitor run <absolute-bundle-dir> [--sync-fd <n>]");
  _exit(2);
}

}  // namespace

int run_main(int argc, char** argv) {
  const char* bundle = nullptr;
  int sync_fd = -1;
  for (int i = 0; i < argc; ++i) {
    if (strcmp(argv[i], "--sync-fd") == 0 && i + 1 < argc) {
      sync_fd = atoi(argv[++i]);
    } else if (argv[i][0] != '-' && !bundle) {
      bundle = argv[i];
    } else {
      usage();
    }
  }
  if (!bundle || bundle[0] != '/') usage();
  // A bad number would later make the report land in whatever fd reuses it.
  if (sync_fd >= 0 && (sync_fd < 3 || fcntl(sync_fd, F_SETFD, FD_CLOEXEC) != 0)) {
    log_message("--sync-fd %d is not an open descriptor above 2", sync_fd);
    return 2;
  }

  // Detach: the launcher exits at once (crispd reaps it), the monitor is reparented to init.
  pid_t pid = fork();
  if (pid < 0) {
    log_message("fork: %s", error_text(errno));
    return 1;
  }
  if (pid > 0) _exit(0);
  setsid();
  // Pin nothing of crispd's (the bundle path is absolute).
  if (chdir("/") != 0) log_message("chdir /: %s", error_text(errno));

  Monitor* m = &g_monitor;
  m->sync_fd = sync_fd;
  // Signals: SIGCHLD/SIGTERM/SIGINT through a signalfd; SIGPIPE ignored (clients may vanish).
  signal(SIGPIPE, SIG_IGN);
  signal(SIGHUP, SIG_IGN);
  sigset_t mask;
  sigemptyset(&mask);
  sigaddset(&mask, SIGCHLD);
  sigaddset(&mask, SIGTERM);
  sigaddset(&mask, SIGINT);
  sigprocmask(SIG_BLOCK, &mask, nullptr);
  m->signal_fd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
  if (m->signal_fd < 0) fail(m, "signalfd: %s", error_text(errno));
  prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);

  char spec_path[4096];
  path_join(spec_path, sizeof(spec_path), bundle, "spec");
  size_t spec_len = 0;
  char* text = read_whole_file(spec_path, &spec_len);
  if (!text) fail(m, "read spec %s: %s", spec_path, error_text(errno));
  char err[512];
  if (!parse_spec(text, spec_len, false, &m->spec, err, sizeof(err))) {
    fail(m, "spec %s: %s", spec_path, err);
  }
  const ParsedSpec& spec = m->spec;
  if (spec.control_socket && strlen(spec.control_socket) >= sizeof(m->control_path)) {
    fail(m, "control socket path too long: %s", spec.control_socket);
  }
  if (!spec.control_socket && strlen(bundle) + sizeof("/control.sock") > sizeof(m->control_path)) {
    fail(m, "bundle path too long for its control socket (give the spec a control_socket): %s", bundle);
  }
  m->pid_file = spec.pid_file ? spec.pid_file : strdup(path_join(spec_path, sizeof(spec_path), bundle, "pid"));
  m->exit_file = spec.exit_file ? spec.exit_file : strdup(path_join(spec_path, sizeof(spec_path), bundle, "exit"));
  snprintf(m->control_path, sizeof(m->control_path), "%s",
           spec.control_socket ? spec.control_socket
                               : path_join(spec_path, sizeof(spec_path), bundle, "control.sock"));
  if (!m->log.init(spec.log_path, spec.log_max_line)) {
    fail(m, "open log %s: %s", spec.log_path, error_text(errno));
  }
  if (!m->log.init_stream(&m->out_stream, "stdout") || !m->log.init_stream(&m->err_stream, "stderr")) {
    fail(m, "log buffers: %s", error_text(errno));
  }
  SeccompProgram seccomp;
  if (spec.process.seccomp_bpf_path) {
    ChildError serr;
    if (!load_seccomp_program(spec.process.seccomp_bpf_path, &seccomp, &serr)) {
      fail(m, "%s", serr.message);
    }
  }

  ContainerInitContext ctx;
  ctx.spec = &spec;
  ctx.seccomp = &seccomp;
  int child_stdin = -1, child_stdout = -1, child_stderr = -1;
  if (!spec.process.terminal) {
    int p[2];
    if (pipe2(p, O_CLOEXEC) != 0) fail(m, "stdout pipe: %s", error_text(errno));
    m->out_fd = p[0];
    child_stdout = p[1];
    if (pipe2(p, O_CLOEXEC) != 0) fail(m, "stderr pipe: %s", error_text(errno));
    m->err_fd = p[0];
    child_stderr = p[1];
    if (spec.process.stdin) {
      if (pipe2(p, O_CLOEXEC) != 0) fail(m, "stdin pipe: %s", error_text(errno));
      child_stdin = p[0];
      m->stdin_w = p[1];
    } else {
      child_stdin = open("/dev/null", O_RDONLY | O_CLOEXEC);
      if (child_stdin < 0) fail(m, "open /dev/null: %s", error_text(errno));
    }
  }
  ctx.stdin_fd = child_stdin;
  ctx.stdout_fd = child_stdout;
  ctx.stderr_fd = child_stderr;
  ctx.join_net_fd = open_namespace(m, spec.net, "network");
  ctx.join_ipc_fd = open_namespace(m, spec.ipc, "ipc");
  ctx.join_uts_fd = open_namespace(m, spec.uts, "uts");
  int join_pid_fd = open_namespace(m, spec.pid, "pid");
  const bool in_userns = spec.user.mode == kNsJoin;
  int* mount_fds = nullptr;
  if (in_userns) {
    ctx.userns_fd = open(spec.user.path, O_RDONLY | O_CLOEXEC);
    if (ctx.userns_fd < 0) fail(m, "open user namespace %s: %s", spec.user.path, error_text(errno));
    ctx.rootfs_fd = open(spec.rootfs, O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (ctx.rootfs_fd < 0) fail(m, "open rootfs %s: %s", spec.rootfs, error_text(errno));
    mount_fds = prepare_mount_fds(m, spec, ctx.userns_fd);
    ctx.mount_fds = mount_fds;
    // The child joins the pid namespace after the user namespace (it stays in ours itself, so the
    // pid it reports is in ours).
    ctx.join_pid_fd = join_pid_fd;
    join_pid_fd = -1;
  }
  if (join_pid_fd >= 0) {
    if (setns(join_pid_fd, CLONE_NEWPID) != 0) {
      fail(m, "join pid namespace %s: %s", spec.pid.path, error_text(errno));
    }
    close(join_pid_fd);
  }
  make_control_socket(m);
  // Files of an earlier run of this bundle would describe another process.
  unlink(m->exit_file);
  unlink(m->pid_file);
  int sync_pair[2];
  if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sync_pair) != 0) {
    fail(m, "socketpair: %s", error_text(errno));
  }
  ctx.sync_fd = sync_pair[1];

  unsigned long ns_flags = CLONE_NEWNS;
  if (spec.pid.mode == kNsNew) ns_flags |= CLONE_NEWPID;
  if (spec.net.mode == kNsNew) ns_flags |= CLONE_NEWNET;
  if (spec.ipc.mode == kNsNew) ns_flags |= CLONE_NEWIPC;
  if (spec.uts.mode == kNsNew) ns_flags |= CLONE_NEWUTS;
  if (in_userns) {
    // Made by the child inside the user namespace (so owned by it), not by clone() here.
    if (spec.cgroup.mode == kNsNew) ns_flags |= CLONE_NEWCGROUP;
    ctx.unshare_flags = static_cast<int>(ns_flags);
    ns_flags = 0;
  }
  pid_t child = static_cast<pid_t>(syscall(SYS_clone, ns_flags | SIGCHLD, nullptr, nullptr, nullptr, nullptr));
  if (child < 0) fail(m, "clone container init: %s", error_text(errno));
  if (child == 0) {
    close(sync_pair[0]);
    if (in_userns) run_container_init_in_user_namespace(ctx);
    run_container_init(ctx);
  }
  m->container = child;  // in user namespace mode replaced by the kSyncPid report
  close(sync_pair[1]);
  const int child_fds[] = {child_stdin,     child_stdout,    child_stderr,     ctx.join_net_fd,
                           ctx.join_ipc_fd, ctx.join_uts_fd, ctx.join_pid_fd, ctx.userns_fd,
                           ctx.rootfs_fd};
  for (int fd : child_fds) {
    if (fd >= 0) close(fd);
  }
  if (mount_fds) {
    for (uint32_t i = 0; i < spec.mount_count; ++i) {
      if (mount_fds[i] >= 0) close(mount_fds[i]);
    }
    free(mount_fds);
  }
  await_exec(m, sync_pair[0]);
  close(sync_pair[0]);
  m->started_at = unix_time_ns();
  if (m->pty_master >= 0 && spec.process.stdin) m->stdin_w = m->pty_master;
  uint64_t start_time = process_start_time(m->container);
  write_pid_file(m, start_time);
  report(m, "started %d %llu", static_cast<int>(m->container), static_cast<unsigned long long>(start_time));
  free(seccomp.filter);
  trim_resident_code();  // after the report: off the start path
  monitor_loop(m);
  return 0;
}

}  // namespace crisp::monitor
