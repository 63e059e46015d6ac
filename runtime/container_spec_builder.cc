#include "runtime/container_spec_builder.h"

#include <linux/capability.h>
#include <signal.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include <algorithm>
#include <cerrno>
#include <charconv>

#include "runtime/base/error.h"

namespace crisp::runtime {

namespace {

constexpr const char* kDefaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

// containerd's defaults (pkg/oci/spec.go): hidden and read-only parts of /proc and /sys.
const std::vector<std::string> kMaskedPaths = {
    "/proc/acpi",        "/proc/asound",      "/proc/kcore",         "/proc/keys",
    "/proc/latency_stats", "/proc/timer_list", "/proc/timer_stats",  "/proc/sched_debug",
    "/proc/scsi",        "/sys/firmware",     "/sys/devices/virtual/powercap"};
const std::vector<std::string> kReadonlyPaths = {"/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys",
                                                 "/proc/sysrq-trigger"};

size_t path_depth(const std::string& path) { return static_cast<size_t>(std::count(path.begin(), path.end(), '/')); }

std::string clean_path(const std::string& path) {
  std::string out = path;
  while (out.size() > 1 && out.back() == '/') out.pop_back();
  return out;
}

}  // namespace

uint64_t default_capability_mask() {
  const int caps[] = {CAP_CHOWN,  CAP_DAC_OVERRIDE, CAP_FSETID,  CAP_FOWNER,           CAP_MKNOD,
                      CAP_NET_RAW, CAP_SETGID,      CAP_SETUID,  CAP_SETFCAP,          CAP_SETPCAP,
                      CAP_NET_BIND_SERVICE, CAP_SYS_CHROOT, CAP_KILL, CAP_AUDIT_WRITE};
  uint64_t mask = 0;
  for (int cap : caps) mask |= uint64_t{1} << cap;
  return mask;
}

std::vector<std::string> merge_command(const ContainerConfig& config, const ImageConfig& image) {
  std::vector<std::string> argv;
  if (!config.command.empty()) {
    argv = config.command;
    argv.insert(argv.end(), config.args.begin(), config.args.end());
  } else {
    argv = image.entrypoint;
    const auto& cmd = config.args.empty() ? image.cmd : config.args;
    argv.insert(argv.end(), cmd.begin(), cmd.end());
  }
  if (argv.empty() || argv[0].empty()) {
    throw Error(ErrorKind::kInvalidArgument, "no command specified: neither the container config nor the image has one");
  }
  return argv;
}

std::vector<std::string> merge_env(const std::vector<std::string>& image_env,
                                   const std::vector<std::pair<std::string, std::string>>& envs,
                                   const std::string& home) {
  std::vector<std::string> out = image_env;
  auto key_of = [](const std::string& kv) { return kv.substr(0, kv.find('=')); };
  auto set = [&](const std::string& key, const std::string& value) {
    for (auto& kv : out) {
      if (key_of(kv) == key) {
        kv = key + "=" + value;
        return;
      }
    }
    out.push_back(key + "=" + value);
  };
  for (const auto& [key, value] : envs) {
    if (key.empty()) continue;
    set(key, value);
  }
  auto has = [&](const std::string& key) {
    return std::any_of(out.begin(), out.end(), [&](const std::string& kv) { return key_of(kv) == key; });
  };
  if (!has("PATH")) out.push_back(std::string("PATH=") + kDefaultPath);
  if (!has("HOME")) out.push_back("HOME=" + (home.empty() ? std::string("/") : home));
  return out;
}

std::vector<monitor::MountSpec> build_mounts(const ContainerConfig& config, const PodFilePaths& pod_files,
                                             bool in_user_namespace) {
  std::vector<monitor::MountSpec> defaults = {
      {"/proc", "proc", "proc", {"nosuid", "noexec", "nodev"}, ""},
      {"/dev", "tmpfs", "tmpfs", {"nosuid", "strictatime", "mode=755", "size=65536k"}, ""},
      {"/dev/pts", "devpts", "devpts", {"nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"}, ""},
      {"/dev/mqueue", "mqueue", "mqueue", {"nosuid", "noexec", "nodev"}, ""},
      {"/sys", "sysfs", "sysfs", {"nosuid", "noexec", "nodev", "ro"}, ""},
      {"/dev/shm", "bind", pod_files.shm, {"rbind", "rprivate", "nosuid", "nodev", "noexec"}, ""},
  };
  std::vector<monitor::MountSpec> pod = {
      {"/etc/hostname", "bind", pod_files.hostname, {"rbind", "rprivate"}, ""},
      {"/etc/hosts", "bind", pod_files.hosts, {"rbind", "rprivate"}, ""},
      {"/etc/resolv.conf", "bind", pod_files.resolv_conf, {"rbind", "rprivate"}, ""},
  };
  if (config.readonly_rootfs) {
    for (auto& m : pod) m.options.push_back("ro");
  }
  if (in_user_namespace) {
    // Host-root-owned files of the pod appear owned by the pod's root, as without a user namespace.
    for (auto& m : pod) m.options.push_back("idmap");
    for (auto& m : defaults) {
      if (m.destination == "/dev/shm") m.options.push_back("idmap");
    }
  }
  auto idmapped = [&](const std::string& container_path) {
    return std::any_of(config.mount_idmappings.begin(), config.mount_idmappings.end(),
                       [&](const MountIdMappings& m) { return clean_path(m.container_path) == clean_path(container_path); });
  };
  if (!in_user_namespace && !config.mount_idmappings.empty()) {
    throw Error(ErrorKind::kInvalidArgument, "mount " + config.mount_idmappings[0].container_path +
                                                 " asks for uid/gid mappings, but the pod has no user namespace");
  }

  std::vector<monitor::MountSpec> cri;
  for (const auto& m : config.mounts) {
    if (m.container_path.empty() || m.container_path[0] != '/') {
      throw Error(ErrorKind::kInvalidArgument, "mount container path \"" + m.container_path + "\" must be absolute");
    }
    if (m.host_path.empty() || m.host_path[0] != '/') {
      throw Error(ErrorKind::kInvalidArgument, "mount host path \"" + m.host_path + "\" must be absolute");
    }
    struct stat st;
    if (::stat(m.host_path.c_str(), &st) != 0) {
      throw Error(ErrorKind::kInvalidArgument, "mount host path " + m.host_path + ": " + strerror(errno));
    }
    monitor::MountSpec spec{clean_path(m.container_path), "bind", m.host_path, {"rbind"}, ""};
    switch (m.propagation) {
      case MountPropagation::kPrivate: spec.options.push_back("rprivate"); break;
      case MountPropagation::kHostToContainer: spec.options.push_back("rslave"); break;
      case MountPropagation::kBidirectional: spec.options.push_back("rshared"); break;
    }
    spec.options.push_back(m.recursive_readonly ? "rro" : m.readonly ? "ro" : "rw");
    if (idmapped(m.container_path)) spec.options.push_back("idmap");
    cri.push_back(std::move(spec));
  }
  std::stable_sort(cri.begin(), cri.end(), [](const auto& a, const auto& b) {
    return path_depth(a.destination) < path_depth(b.destination);
  });

  std::vector<monitor::MountSpec> out;
  auto overridden = [&](const std::string& dest) {
    return std::any_of(cri.begin(), cri.end(), [&](const auto& m) { return m.destination == dest; });
  };
  for (auto& m : defaults) {
    if (!overridden(m.destination)) out.push_back(std::move(m));
  }
  for (auto& m : pod) {
    if (!overridden(m.destination)) out.push_back(std::move(m));
  }
  for (auto& m : cri) out.push_back(std::move(m));
  return out;
}

int parse_stop_signal(const std::string& name) {
  if (name.empty()) return SIGTERM;
  int number = 0;
  auto [ptr, ec] = std::from_chars(name.data(), name.data() + name.size(), number);
  if (ec == std::errc() && ptr == name.data() + name.size()) {
    if (number > 0 && number < NSIG) return number;
    throw Error(ErrorKind::kInvalidArgument, "invalid stop signal " + name);
  }
  std::string bare = name.rfind("SIG", 0) == 0 ? name.substr(3) : name;
  for (int sig = 1; sig < NSIG; ++sig) {
    const char* abbrev = sigabbrev_np(sig);
    if (abbrev && bare == abbrev) return sig;
  }
  if (bare.rfind("RTMIN+", 0) == 0) return SIGRTMIN + std::stoi(bare.substr(6));
  throw Error(ErrorKind::kInvalidArgument, "unknown stop signal " + name);
}

monitor::BundleSpec build_bundle_spec(const SpecInputs& in) {
  monitor::BundleSpec spec;
  monitor::ProcessSpec& p = spec.process;
  p.args = merge_command(in.config, in.image);
  p.env = merge_env(in.image.env, in.config.envs, in.user.home);
  p.cwd = !in.config.working_dir.empty() ? in.config.working_dir
          : !in.image.working_dir.empty() ? in.image.working_dir
                                          : "/";
  if (p.cwd[0] != '/') throw Error(ErrorKind::kInvalidArgument, "working directory \"" + p.cwd + "\" must be absolute");
  p.uid = in.user.uid;
  p.gid = in.user.gid;
  p.additional_gids = in.user.additional_gids;
  p.terminal = in.config.tty;
  p.stdin = in.config.stdin;
  p.stdin_once = in.config.stdin_once;
  // Issue 5 (security) refines these: added/dropped capabilities, no_new_privs, seccomp.
  p.no_new_privs = false;
  uint64_t caps = default_capability_mask();
  p.cap_bounding = p.cap_effective = p.cap_permitted = caps;

  spec.rootfs = in.rootfs;
  spec.readonly_rootfs = in.config.readonly_rootfs;
  auto join_or_host = [](const std::string& path) {
    return path.empty() ? monitor::NamespaceSpec{monitor::NamespaceMode::kHost, ""}
                        : monitor::NamespaceSpec{monitor::NamespaceMode::kJoin, path};
  };
  spec.net = join_or_host(in.pod_namespaces.net);
  spec.ipc = join_or_host(in.pod_namespaces.ipc);
  spec.uts = join_or_host(in.pod_namespaces.uts);
  switch (in.config.pid_namespace) {
    case NamespaceMode::kNode: spec.pid = {monitor::NamespaceMode::kHost, ""}; break;
    case NamespaceMode::kPod:
    case NamespaceMode::kTarget:
      if (in.pod_namespaces.pid.empty()) {
        throw Error(ErrorKind::kFailedPrecondition, "the pod has no shared pid namespace to join");
      }
      spec.pid = {monitor::NamespaceMode::kJoin, in.pod_namespaces.pid};
      break;
    case NamespaceMode::kContainer: spec.pid = {monitor::NamespaceMode::kNew, ""}; break;
  }
  spec.cgroup = {monitor::NamespaceMode::kHost, ""};  // issue 5: new cgroup namespace on v2
  spec.mounts = build_mounts(in.config, in.pod_files, !in.userns_path.empty());
  if (!in.userns_path.empty()) spec.user = {monitor::NamespaceMode::kJoin, in.userns_path};
  // A bidirectional mount only propagates back to the host if the container's mount namespace
  // stays a peer of the host's (as containerd does: rootfs propagation rshared).
  for (const auto& m : in.config.mounts)
    if (m.propagation == MountPropagation::kBidirectional) spec.rootfs_propagation = "rshared";
  spec.default_devices = true;
  for (const auto& d : in.config.devices) {
    struct stat st;
    if (::stat(d.host_path.c_str(), &st) != 0) {
      throw Error(ErrorKind::kInvalidArgument, "device " + d.host_path + ": " + strerror(errno));
    }
    if (!S_ISCHR(st.st_mode) && !S_ISBLK(st.st_mode)) {
      throw Error(ErrorKind::kInvalidArgument, "device " + d.host_path + " is not a device node");
    }
    if (d.container_path.empty() || d.container_path[0] != '/') {
      throw Error(ErrorKind::kInvalidArgument, "device container path \"" + d.container_path + "\" must be absolute");
    }
    spec.devices.push_back({d.container_path, S_ISCHR(st.st_mode) ? 'c' : 'b', major(st.st_rdev), minor(st.st_rdev),
                            static_cast<uint32_t>(st.st_mode & 07777), 0, 0});
  }
  if (!in.config.privileged) {
    spec.masked_paths = kMaskedPaths;
    spec.readonly_paths = kReadonlyPaths;
  }
  spec.log_path = in.log_path;
  spec.log_max_line = in.log_max_line;
  return spec;
}

}  // namespace crisp::runtime
