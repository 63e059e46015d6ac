#include "runtime/sandbox_namespaces.h"

#include <fcntl.h>
#include <grp.h>
#include <linux/close_range.h>
#include <linux/mount.h>
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
#include <mutex>
#include <sstream>
#include <thread>
#include <vector>

#include "runtime/base/cleanup.h"
#include "runtime/base/error.h"
#include "runtime/base/file_util.h"
#include "runtime/base/unique_fd.h"
#include "runtime/monitor/protocol.h"
#include "runtime/process_util.h"
#include "runtime/state_store.h"

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

// Pins <proc_dir>/ns/<kind> (proc_dir: /proc/thread-self or /proc/<pid>) at target.
void pin_namespace(const std::string& proc_dir, const std::string& kind, const std::string& target) {
  UniqueFd file(::open(target.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0444));
  if (!file) throw_errno("create namespace pin " + target);
  file.reset();
  std::string source = proc_dir + "/ns/" + kind;
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
    pin_namespace("/proc/thread-self", kind, target);
    pinned.push_back(target);
  }
}

// What the namespace-making child of make_namespaces_in_user_namespace reports: the step that
// failed (kStepOk = done so far) and its errno.
enum ChildStep : int32_t {
  kStepOk = 0,
  kStepUnshareUser,
  kStepBecomeRoot,
  kStepUnshare,
  kStepHostname,
  kStepLoopback,
  kStepSysctl,  // + index of the sysctl
};

struct ChildReport {
  int32_t step = kStepOk;
  int32_t error = 0;
};

ChildReport read_report(int fd) {
  ChildReport report;
  ssize_t n;
  do {
    n = ::read(fd, &report, sizeof(report));
  } while (n < 0 && errno == EINTR);
  if (n != static_cast<ssize_t>(sizeof(report))) return ChildReport{kStepUnshareUser, ECHILD};
  return report;
}

void write_id_map(pid_t pid, const char* file, const std::vector<IdMapping>& mappings) {
  std::string path = "/proc/" + std::to_string(pid) + "/" + file;
  std::string text = id_map_text(mappings);
  UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CLOEXEC));
  // One write: the kernel takes a map only whole, once.
  if (!fd || ::write(fd.get(), text.data(), text.size()) != static_cast<ssize_t>(text.size())) {
    throw_errno(ErrorKind::kFailedPrecondition, errno,
                std::string("the kernel refused the pod's ") + file + " \"" + text.substr(0, text.find('\n')) + "...\"");
  }
}

// The user-namespace variant of make_namespaces_in_this_thread: a process may only enter a new
// user namespace while single-threaded, so a forked child does it. The child makes only system
// calls (crispd is multi-threaded): everything it needs is prepared here.
void make_namespaces_in_user_namespace(const PodNamespaceRequest& request, std::vector<std::string>& pinned) {
  const int flags = (request.net ? CLONE_NEWNET : 0) | (request.ipc ? CLONE_NEWIPC : 0) |
                    (request.uts ? CLONE_NEWUTS : 0);
  std::vector<std::string> sysctl_paths, sysctl_values, sysctl_names;
  for (const auto& [name, value] : request.sysctls) {
    std::string path = sysctl_path(name);
    if (path.find("..") != std::string::npos) throw Error(ErrorKind::kInvalidArgument, "invalid sysctl name " + name);
    sysctl_paths.push_back(path);
    sysctl_values.push_back(value);
    sysctl_names.push_back(name);
  }
  std::vector<const char*> paths, values;
  for (size_t i = 0; i < sysctl_paths.size(); ++i) {
    paths.push_back(sysctl_paths[i].c_str());
    values.push_back(sysctl_values[i].c_str());
  }
  const std::string& hostname = request.hostname;
  const bool set_hostname = request.uts && !hostname.empty();

  int to_child[2], from_child[2];
  if (::pipe2(to_child, O_CLOEXEC) != 0) throw_errno("pipe for the pod's user namespace");
  UniqueFd to_child_r(to_child[0]), to_child_w(to_child[1]);
  if (::pipe2(from_child, O_CLOEXEC) != 0) throw_errno("pipe for the pod's user namespace");
  UniqueFd from_child_r(from_child[0]), from_child_w(from_child[1]);

  pid_t child = ::fork();
  if (child < 0) throw_errno("fork for the pod's user namespace");
  if (child == 0) {
    const int in = to_child_r.get(), out = from_child_w.get();
    auto report = [out](int32_t step, int32_t error) {
      ChildReport r{step, error};
      (void)!::write(out, &r, sizeof(r));
    };
    auto wait_parent = [in]() {
      char go;
      return ::read(in, &go, 1) == 1;
    };
    if (::unshare(CLONE_NEWUSER) != 0) {
      report(kStepUnshareUser, errno);
      ::_exit(1);
    }
    report(kStepOk, 0);
    if (!wait_parent()) ::_exit(1);  // the parent wrote the maps (or gave up)
    // Root of the pod from here: what it creates is owned by the pod's root.
    if (::setgroups(0, nullptr) != 0 || ::setresgid(0, 0, 0) != 0 || ::setresuid(0, 0, 0) != 0) {
      report(kStepBecomeRoot, errno);
      ::_exit(1);
    }
    if (flags != 0 && ::unshare(flags) != 0) {
      report(kStepUnshare, errno);
      ::_exit(1);
    }
    if (set_hostname && ::sethostname(hostname.data(), hostname.size()) != 0) {
      report(kStepHostname, errno);
      ::_exit(1);
    }
    if (request.net) {
      int sock = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
      struct ifreq ifr = {};
      std::memcpy(ifr.ifr_name, "lo", 3);
      if (sock < 0 || ::ioctl(sock, SIOCGIFFLAGS, &ifr) != 0) {
        report(kStepLoopback, errno);
        ::_exit(1);
      }
      ifr.ifr_flags |= IFF_UP;
      if (::ioctl(sock, SIOCSIFFLAGS, &ifr) != 0) {
        report(kStepLoopback, errno);
        ::_exit(1);
      }
      ::close(sock);
    }
    for (size_t i = 0; i < paths.size(); ++i) {
      int fd = ::open(paths[i], O_WRONLY | O_CLOEXEC);
      size_t len = std::strlen(values[i]);
      if (fd < 0 || ::write(fd, values[i], len) != static_cast<ssize_t>(len)) {
        report(kStepSysctl + static_cast<int32_t>(i), errno);
        ::_exit(1);
      }
      ::close(fd);
    }
    report(kStepOk, 0);
    wait_parent();  // EOF once the parent pinned the namespaces
    ::_exit(0);
  }
  to_child_r.reset();
  from_child_w.reset();
  Cleanup reap([&] {
    to_child_w.reset();
    ::kill(child, SIGKILL);
    while (::waitpid(child, nullptr, 0) < 0 && errno == EINTR) {
    }
  });
  auto fail = [&](const ChildReport& r) {
    switch (r.step) {
      case kStepUnshareUser:
        throw_errno(ErrorKind::kFailedPrecondition, r.error,
                    "create the pod's user namespace (are user namespaces enabled on this host?)");
      case kStepBecomeRoot: throw_errno(ErrorKind::kInternal, r.error, "become root of the pod's user namespace");
      case kStepUnshare: throw_errno(ErrorKind::kInternal, r.error, "unshare the pod's namespaces in its user namespace");
      case kStepHostname: throw_errno(ErrorKind::kInvalidArgument, r.error, "set hostname " + hostname);
      case kStepLoopback: throw_errno(ErrorKind::kInternal, r.error, "bring lo up in the pod's network namespace");
      default: {
        size_t i = static_cast<size_t>(r.step - kStepSysctl);
        std::string what = i < sysctl_names.size() ? sysctl_names[i] + "=" + sysctl_values[i] : "?";
        throw_errno(ErrorKind::kInvalidArgument, r.error, "sysctl " + what);
      }
    }
  };
  ChildReport r = read_report(from_child_r.get());
  if (r.step != kStepOk) fail(r);
  write_id_map(child, "uid_map", request.userns->uids);
  write_id_map(child, "gid_map", request.userns->gids);
  if (::write(to_child_w.get(), "g", 1) != 1) throw_errno("signal the pod's namespace child");
  r = read_report(from_child_r.get());
  if (r.step != kStepOk) fail(r);
  std::string proc_dir = "/proc/" + std::to_string(child);
  const struct {
    const char* kind;
    bool wanted;
  } kinds[] = {{"user", true}, {"net", request.net}, {"ipc", request.ipc}, {"uts", request.uts}};
  for (const auto& [kind, wanted] : kinds) {
    if (!wanted) continue;
    std::string target = request.ns_dir + "/" + kind;
    pin_namespace(proc_dir, kind, target);
    pinned.push_back(target);
  }
}

// A child that only unshares a user namespace and waits: what user_namespaces_supported() probes with.
bool probe_user_namespace() {
  int to_child[2], from_child[2];
  if (::pipe2(to_child, O_CLOEXEC) != 0) return false;
  UniqueFd to_child_r(to_child[0]), to_child_w(to_child[1]);
  if (::pipe2(from_child, O_CLOEXEC) != 0) return false;
  UniqueFd from_child_r(from_child[0]), from_child_w(from_child[1]);
  pid_t child = ::fork();
  if (child < 0) return false;
  if (child == 0) {
    ChildReport r{kStepOk, 0};
    if (::unshare(CLONE_NEWUSER) != 0) r = ChildReport{kStepUnshareUser, errno};
    (void)!::write(from_child_w.get(), &r, sizeof(r));
    char go;
    (void)!::read(to_child_r.get(), &go, 1);
    ::_exit(0);
  }
  to_child_r.reset();
  from_child_w.reset();
  Cleanup reap([&] {
    to_child_w.reset();
    ::kill(child, SIGKILL);
    while (::waitpid(child, nullptr, 0) < 0 && errno == EINTR) {
    }
  });
  if (read_report(from_child_r.get()).step != kStepOk) return false;
  try {
    // Any mapping will do; the ids are never used.
    write_id_map(child, "uid_map", {IdMapping{0, 2147483000u, 1}});
    write_id_map(child, "gid_map", {IdMapping{0, 2147483000u, 1}});
  } catch (const Error&) {
    return false;
  }
  UniqueFd userns(::open(("/proc/" + std::to_string(child) + "/ns/user").c_str(), O_RDONLY | O_CLOEXEC));
  UniqueFd fs(::fsopen("tmpfs", FSOPEN_CLOEXEC));
  if (!userns || !fs || ::fsconfig(fs.get(), FSCONFIG_CMD_CREATE, nullptr, nullptr, 0) != 0) return false;
  UniqueFd mnt(::fsmount(fs.get(), FSMOUNT_CLOEXEC, 0));
  if (!mnt) return false;
  struct mount_attr attr = {};
  attr.attr_set = MOUNT_ATTR_IDMAP;
  attr.userns_fd = static_cast<uint64_t>(userns.get());
  return ::mount_setattr(mnt.get(), "", AT_EMPTY_PATH, &attr, sizeof(attr)) == 0;
}

std::string describe_mapping(const char* kind, const IdMapping& m) {
  return std::string(kind) + " mapping {container_id " + std::to_string(m.container_id) + ", host_id " +
         std::to_string(m.host_id) + ", length " + std::to_string(m.length) + "}";
}

void validate_id_mappings(const char* kind, const std::vector<IdMapping>& mappings) {
  if (mappings.empty()) {
    throw Error(ErrorKind::kInvalidArgument,
                std::string("user namespace mode POD needs at least one ") + kind + " mapping");
  }
  // The kernel's limit (UID_GID_MAP_MAX_EXTENTS).
  if (mappings.size() > 340) {
    throw Error(ErrorKind::kInvalidArgument, std::string("too many ") + kind + " mappings (at most 340)");
  }
  constexpr uint64_t kIdLimit = 0xffffffffULL;  // (uint32_t)-1 is no id
  for (size_t i = 0; i < mappings.size(); ++i) {
    const IdMapping& m = mappings[i];
    if (m.length == 0) throw Error(ErrorKind::kInvalidArgument, describe_mapping(kind, m) + ": length must be > 0");
    if (uint64_t{m.container_id} + m.length > kIdLimit || uint64_t{m.host_id} + m.length > kIdLimit) {
      throw Error(ErrorKind::kInvalidArgument, describe_mapping(kind, m) + " overflows 32-bit ids");
    }
    for (size_t j = 0; j < i; ++j) {
      const IdMapping& o = mappings[j];
      auto overlap = [](uint64_t a, uint64_t alen, uint64_t b, uint64_t blen) { return a < b + blen && b < a + alen; };
      if (overlap(m.container_id, m.length, o.container_id, o.length) || overlap(m.host_id, m.length, o.host_id, o.length)) {
        throw Error(ErrorKind::kInvalidArgument,
                    describe_mapping(kind, m) + " overlaps " + describe_mapping(kind, o));
      }
    }
  }
  if (!host_id_of(mappings, 0)) {
    throw Error(ErrorKind::kInvalidArgument,
                std::string("the ") + kind + " mappings must map container id 0 (the pod's root)");
  }
}

}  // namespace

void validate_user_namespace(const UserNamespaceConfig& userns) {
  if (userns.mode == NamespaceMode::kNode) return;
  if (userns.mode != NamespaceMode::kPod) {
    throw Error(ErrorKind::kInvalidArgument, "user namespace mode must be POD or NODE");
  }
  validate_id_mappings("uid", userns.uids);
  validate_id_mappings("gid", userns.gids);
}

std::optional<uint32_t> host_id_of(const std::vector<IdMapping>& mappings, uint32_t container_id) {
  for (const auto& m : mappings) {
    if (container_id >= m.container_id && uint64_t{container_id} < uint64_t{m.container_id} + m.length) {
      return m.host_id + (container_id - m.container_id);
    }
  }
  return std::nullopt;
}

std::string id_map_text(const std::vector<IdMapping>& mappings) {
  std::string text;
  for (const auto& m : mappings) {
    text += std::to_string(m.container_id) + " " + std::to_string(m.host_id) + " " + std::to_string(m.length) + "\n";
  }
  return text;
}

void save_pod_user_namespace(const std::string& sandbox_dir, const UserNamespaceConfig& userns) {
  std::string text;
  for (const auto& m : userns.uids) text += "uid " + id_map_text({m});
  for (const auto& m : userns.gids) text += "gid " + id_map_text({m});
  write_state_file(sandbox_dir + "/userns", text, 0644);
}

std::optional<UserNamespaceConfig> load_pod_user_namespace(const std::string& sandbox_dir) {
  auto text = read_file_if_exists(sandbox_dir + "/userns");
  if (!text) return std::nullopt;
  UserNamespaceConfig userns;
  userns.mode = NamespaceMode::kPod;
  std::istringstream lines(*text);
  std::string kind;
  IdMapping m;
  while (lines >> kind >> m.container_id >> m.host_id >> m.length) {
    (kind == "uid" ? userns.uids : userns.gids).push_back(m);
  }
  return userns;
}

bool user_namespaces_supported() {
  static std::once_flag once;
  static bool supported = false;
  std::call_once(once, [] { supported = probe_user_namespace(); });
  return supported;
}

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
  if (request.userns && request.userns->mode == NamespaceMode::kPod) {
    validate_user_namespace(*request.userns);
    try {
      make_namespaces_in_user_namespace(request, pinned);
    } catch (...) {
      failure = std::current_exception();
    }
  } else {
    std::thread worker([&] {
      try {
        make_namespaces_in_this_thread(request, pinned);
      } catch (...) {
        failure = std::current_exception();
      }
    });
    worker.join();
  }
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

PodInit start_pod_init(const std::string& monitor_path, const std::string& sandbox_dir,
                       const std::string& userns_path) {
  // In the pod's user namespace the pod-init runs as the pod's root, which may not be allowed to
  // walk the path to the monitor: exec it through a descriptor opened here.
  UniqueFd userns, exe;
  if (!userns_path.empty()) {
    userns.reset(::open(userns_path.c_str(), O_RDONLY | O_CLOEXEC));
    if (!userns) throw_errno("open the pod's user namespace " + userns_path);
    exe.reset(::open(monitor_path.c_str(), O_PATH | O_CLOEXEC));
    if (!exe) throw_errno("open " + monitor_path);
  }
  const int userns_fd = userns ? userns.get() : -1;
  const int exe_fd = exe ? exe.get() : -1;
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
    if (userns_fd >= 0 && (::setns(userns_fd, CLONE_NEWUSER) != 0 || ::setgroups(0, nullptr) != 0 ||
                           ::setresgid(0, 0, 0) != 0 || ::setresuid(0, 0, 0) != 0)) {
      int32_t msg[2] = {0, errno};
      (void)!::write(wfd, msg, sizeof(msg));
      ::_exit(1);
    }
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
      if (exe_fd >= 0) {
        ::execveat(exe_fd, "", argv, envp, AT_EMPTY_PATH);
      } else {
        ::execve(path, argv, envp);
      }
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
