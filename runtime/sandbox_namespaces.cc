#include "runtime/sandbox_namespaces.h"

#include <fcntl.h>
#include <linux/close_range.h>
#include <net/if.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <exception>
#include <thread>
#include <vector>

#include "runtime/base/cleanup.h"
#include "runtime/base/error.h"
#include "runtime/base/file_util.h"
#include "runtime/base/unique_fd.h"
#include "runtime/monitor/protocol.h"
#include "runtime/process_util.h"

namespace crisp::runtime {

namespace {

std::string sysctl_path(const std::string& name) {
  std::string path = name;
  // "net.ipv4.ip_forward" -> net/ipv4/ip_forward; a name with '/' already is a path
  // (Kubernetes allows both separators; with '/', dots are part of a component, e.g. an ifname).
  if (path.find('/') == std::string::npos) {
    for (char& c : path) {
      if (c == '.') c = '/';
    }
  }
  return "/proc/sys/" + path;
}

void write_sysctl(const std::string& name, const std::string& value) {
  std::string path = sysctl_path(name);
  if (path.find("..") != std::string::npos) {
    throw Error(ErrorKind::kInvalidArgument, "invalid sysctl name " + name);
  }
  UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CLOEXEC));
  if (!fd) throw_errno(ErrorKind::kInvalidArgument, errno, "sysctl " + name);
  if (::write(fd.get(), value.data(), value.size()) != static_cast<ssize_t>(value.size())) {
    throw_errno(ErrorKind::kInvalidArgument, errno, "sysctl " + name + "=" + value);
  }
}

void loopback_up() {
  UniqueFd sock(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  if (!sock) throw_errno("socket in the pod's network namespace");
  struct ifreq ifr = {};
  std::strncpy(ifr.ifr_name, "lo", IFNAMSIZ - 1);
  if (::ioctl(sock.get(), SIOCGIFFLAGS, &ifr) != 0) throw_errno("get flags of lo");
  ifr.ifr_flags |= IFF_UP;
  if (::ioctl(sock.get(), SIOCSIFFLAGS, &ifr) != 0) throw_errno("bring lo up");
}

void pin_current_namespace(const std::string& kind, const std::string& target) {
  UniqueFd file(::open(target.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0444));
  if (!file) throw_errno("create namespace pin " + target);
  file.reset();
  std::string source = "/proc/thread-self/ns/" + kind;
  if (::mount(source.c_str(), target.c_str(), nullptr, MS_BIND, nullptr) != 0) {
    int err = errno;
    ::unlink(target.c_str());
    throw_errno(ErrorKind::kInternal, err, "pin " + kind + " namespace at " + target);
  }
}

// Runs in a thread of its own: its namespaces die with it unless pinned.
void make_namespaces_in_this_thread(const PodNamespaceRequest& request, std::vector<std::string>& pinned) {
  int flags = (request.net ? CLONE_NEWNET : 0) | (request.ipc ? CLONE_NEWIPC : 0) |
              (request.uts ? CLONE_NEWUTS : 0);
  if (flags == 0) return;
  if (::unshare(flags) != 0) throw_errno("unshare the pod's namespaces");
  if (request.uts && !request.hostname.empty()) {
    if (::sethostname(request.hostname.data(), request.hostname.size()) != 0) {
      throw_errno(ErrorKind::kInvalidArgument, errno, "set hostname " + request.hostname);
    }
  }
  if (request.net) loopback_up();
  for (const auto& [name, value] : request.sysctls) write_sysctl(name, value);
  for (const char* kind : {"net", "ipc", "uts"}) {
    bool wanted = (kind[0] == 'n' && request.net) || (kind[0] == 'i' && request.ipc) ||
                  (kind[0] == 'u' && request.uts);
    if (!wanted) continue;
    std::string target = request.ns_dir + "/" + kind;
    pin_current_namespace(kind, target);
    pinned.push_back(target);
  }
}

}  // namespace

void validate_pod_sysctl(const std::string& name, bool own_net, bool own_ipc, bool own_uts) {
  std::string dotted = name;
  for (char& c : dotted) {
    if (c == '/') c = '.';
  }
  auto starts = [&](const char* prefix) { return dotted.rfind(prefix, 0) == 0; };
  bool ok = false;
  if (starts("net.")) {
    ok = own_net;
  } else if (starts("kernel.shm") || starts("kernel.msg") || dotted == "kernel.sem" || starts("fs.mqueue.")) {
    ok = own_ipc;
  } else if (dotted == "kernel.hostname" || dotted == "kernel.domainname") {
    ok = own_uts;
  } else {
    throw Error(ErrorKind::kInvalidArgument, "sysctl " + name + " is not namespaced; it cannot be set for a pod");
  }
  if (!ok) {
    throw Error(ErrorKind::kInvalidArgument,
                "sysctl " + name + " needs the pod's own namespace, but the pod uses the host's");
  }
}

void create_pod_namespaces(const PodNamespaceRequest& request) {
  for (const auto& [name, value] : request.sysctls) {
    validate_pod_sysctl(name, request.net, request.ipc, request.uts);
  }
  make_dirs(request.ns_dir, 0700);
  std::vector<std::string> pinned;
  std::exception_ptr failure;
  std::thread worker([&] {
    try {
      make_namespaces_in_this_thread(request, pinned);
    } catch (...) {
      failure = std::current_exception();
    }
  });
  worker.join();
  if (failure) {
    for (const auto& path : pinned) unpin_namespace(path);
    std::rethrow_exception(failure);
  }
}

void unpin_namespace(const std::string& path) {
  if (::umount2(path.c_str(), MNT_DETACH) != 0 && errno != EINVAL && errno != ENOENT) {
    throw_errno("unmount namespace pin " + path);
  }
  if (::unlink(path.c_str()) != 0 && errno != ENOENT) throw_errno("remove namespace pin " + path);
}

bool process_alive(pid_t pid, uint64_t start_time) {
  if (pid <= 0) return false;
  auto now = monitor::read_process_start_time(pid);
  if (!now || *now != start_time) return false;
  // A zombie is not alive.
  auto stat = read_file_if_exists("/proc/" + std::to_string(pid) + "/stat");
  if (!stat) return false;
  auto paren = stat->rfind(')');
  return paren != std::string::npos && paren + 2 < stat->size() && (*stat)[paren + 2] != 'Z';
}

PodInit start_pod_init(const std::string& monitor_path, const std::string& sandbox_dir) {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) throw_errno("pipe for pod-init");
  UniqueFd read_end(fds[0]), write_end(fds[1]);
  // Everything the children need is prepared before fork (only async-signal-safe calls after).
  const char* path = monitor_path.c_str();
  char arg0[] = "crisp-monitor";
  char arg1[] = "pod-init";
  // The sandbox dir is informational (ps shows which pod a pod-init belongs to).
  char* argv[] = {arg0, arg1, const_cast<char*>(sandbox_dir.c_str()), nullptr};
  char* envp[] = {nullptr};
  int wfd = write_end.get();

  pid_t middle = ::fork();
  if (middle < 0) throw_errno("fork for pod-init");
  if (middle == 0) {
    ::setsid();
    if (::unshare(CLONE_NEWPID) != 0) {
      int32_t msg[2] = {0, errno};
      (void)!::write(wfd, msg, sizeof(msg));
      ::_exit(1);
    }
    pid_t init = ::fork();
    if (init < 0) {
      int32_t msg[2] = {0, errno};
      (void)!::write(wfd, msg, sizeof(msg));
      ::_exit(1);
    }
    if (init == 0) {
      int devnull = ::open("/dev/null", O_RDWR);
      if (devnull >= 0) {
        ::dup2(devnull, 0);
        ::dup2(devnull, 1);
        ::dup2(devnull, 2);
      }
      ::syscall(SYS_close_range, 3U, ~0U, CLOSE_RANGE_CLOEXEC);
      ::execve(path, argv, envp);
      int32_t err = errno;
      (void)!::write(wfd, &err, sizeof(err));
      ::_exit(127);
    }
    int32_t msg = init;
    (void)!::write(wfd, &msg, sizeof(msg));
    ::_exit(0);
  }
  write_end.reset();
  int status = 0;
  while (::waitpid(middle, &status, 0) < 0 && errno == EINTR) {
  }
  // Reads the pid, then EOF once the exec closed the CLOEXEC pipe (or an errno if it failed).
  std::string data;
  char buf[16];
  for (;;) {
    ssize_t n = ::read(read_end.get(), buf, sizeof(buf));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    data.append(buf, static_cast<size_t>(n));
  }
  // Messages: <pid> (then EOF: exec'd), <pid><errno> (exec failed) or <0><errno> (no pid ns/fork).
  if (data.size() < 4) throw Error(ErrorKind::kInternal, "pod-init launcher died");
  int32_t pid = 0;
  std::memcpy(&pid, data.data(), 4);
  if (data.size() >= 8) {
    int32_t err = 0;
    std::memcpy(&err, data.data() + 4, 4);
    throw Error(ErrorKind::kInternal, "cannot start " + monitor_path + " pod-init: " + std::strerror(err));
  }
  PodInit init;
  init.pid = pid;
  auto start = monitor::read_process_start_time(pid);
  if (!start) throw Error(ErrorKind::kInternal, "pod-init exited at once");
  init.start_time = *start;
  return init;
}

void stop_pod_init(const PodInit& init) {
  if (init.pid <= 0) return;
  UniqueFd pidfd = open_pidfd(init.pid);
  if (!pidfd) return;  // gone
  if (!process_alive(init.pid, init.start_time)) return;
  signal_pidfd(pidfd.get(), SIGKILL);
  wait_pidfd_exit(pidfd.get(), std::chrono::seconds(10));
}

}  // namespace crisp::runtime
