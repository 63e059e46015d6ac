// Containers: create (rootfs mount + bundle spec), start (crisp-monitor), stop, remove, exec, logs.
#include <fcntl.h>
#include <linux/magic.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <optional>
#include <sstream>
#include <thread>

#include "runtime/base/cleanup.h"
#include "runtime/base/error.h"
#include "runtime/base/file_util.h"
#include "runtime/base/unique_fd.h"
#include "runtime/container_spec_builder.h"
#include "runtime/exec_sync.h"
#include "runtime/image_user.h"
#include "runtime/monitor/protocol.h"
#include "runtime/monitor/spec.h"
#include "runtime/pod_files.h"
#include "runtime/process_util.h"
#include "runtime/runtime_impl.h"
#include "runtime/sandbox_namespaces.h"

namespace crisp::runtime {

namespace {

void mount_rootfs(const RootfsMount& rootfs, const std::string& target) {
  unsigned long flags = 0;
  std::string data;
  for (const auto& option : rootfs.options) {
    if (option == "ro") {
      flags |= MS_RDONLY;
    } else if (option == "rw" || option.empty()) {
    } else if (option == "nosuid") {
      flags |= MS_NOSUID;
    } else if (option == "nodev") {
      flags |= MS_NODEV;
    } else if (option == "noexec") {
      flags |= MS_NOEXEC;
    } else if (option == "bind") {
      flags |= MS_BIND;
    } else if (option == "rbind") {
      flags |= MS_BIND | MS_REC;
    } else {
      if (!data.empty()) data += ",";
      data += option;
    }
  }
  if (rootfs.type == "bind") flags |= MS_BIND | MS_REC;
  const char* type = rootfs.type == "bind" ? nullptr : rootfs.type.c_str();
  if (::mount(rootfs.source.c_str(), target.c_str(), type, flags, data.empty() ? nullptr : data.c_str()) != 0) {
    throw_errno(ErrorKind::kInternal, errno, "mount the container rootfs (" + rootfs.type + ") at " + target);
  }
  if ((flags & MS_BIND) && (flags & MS_RDONLY)) {
    ::mount(nullptr, target.c_str(), nullptr, MS_BIND | MS_REMOUNT | MS_RDONLY, nullptr);
  }
}

std::string filesystem_name(const std::string& path) {
  struct statfs st;
  if (::statfs(path.c_str(), &st) != 0) return "unknown";
  switch (static_cast<unsigned long>(st.f_type)) {
    case EXT4_SUPER_MAGIC: return "ext4";
    case TMPFS_MAGIC: return "tmpfs";
    case XFS_SUPER_MAGIC: return "xfs";
    case BTRFS_SUPER_MAGIC: return "btrfs";
    case OVERLAYFS_SUPER_MAGIC: return "overlay";
    default: {
      char hex[32];
      std::snprintf(hex, sizeof(hex), "0x%lx", static_cast<unsigned long>(st.f_type));
      return hex;
    }
  }
}

// A detached clone of the mount at path, idmapped with the user namespace userns_fd (what a
// container in that namespace sees as its ids). Throws kFailedPrecondition naming what the kernel
// refused: a container must never run with wrong ownership.
UniqueFd idmapped_clone(const std::string& path, int userns_fd, bool recursive, const std::string& what) {
  UniqueFd tree(::open_tree(AT_FDCWD, path.c_str(),
                            OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | (recursive ? AT_RECURSIVE : 0)));
  if (!tree) {
    throw_errno(ErrorKind::kFailedPrecondition, errno, "clone the mount of " + what + " " + path + " for idmapping");
  }
  struct mount_attr attr = {};
  attr.attr_set = MOUNT_ATTR_IDMAP;
  attr.userns_fd = static_cast<uint64_t>(userns_fd);
  if (::mount_setattr(tree.get(), "", AT_EMPTY_PATH | (recursive ? AT_RECURSIVE : 0), &attr, sizeof(attr)) != 0) {
    throw_errno(ErrorKind::kFailedPrecondition, errno,
                "idmapped mount of " + what + " " + path + " (filesystem " + filesystem_name(path) +
                    ") refused by the kernel; a pod with a user namespace (userns mode POD) needs idmapped mounts");
  }
  return tree;
}

// The kernel's messages about a failed fsconfig (the fs context's log), one line.
std::string fs_context_log(int fs_fd) {
  std::string text;
  char buf[512];
  for (int i = 0; i < 8; ++i) {
    ssize_t n = ::read(fs_fd, buf, sizeof(buf) - 1);
    if (n <= 0) break;
    if (!text.empty()) text += "; ";
    text.append(buf, static_cast<size_t>(n));
  }
  return text.empty() ? "" : " (kernel: " + text + ")";
}

// The rootfs of a container in a pod with its own user namespace: an overlay whose image layers
// are idmapped clones (files owned by host root appear owned by the pod's root; they stay
// untouched on disk), and whose upper dir is owned by the pod's root on the host, so that what the
// container writes lands there with its host ids (as containerd 2's overlay snapshotter does).
// Needs overlay layers given as descriptors (Linux 6.13+).
void mount_rootfs_idmapped(const RootfsMount& rootfs, const std::string& target, const std::string& userns_path,
                           uint32_t root_uid, uint32_t root_gid) {
  UniqueFd userns(::open(userns_path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!userns) throw_errno("open the pod's user namespace " + userns_path);
  bool readonly = false;
  uint64_t attrs = 0;
  for (const auto& option : rootfs.options) {
    if (option == "ro") readonly = true;
    if (option == "nosuid") attrs |= MOUNT_ATTR_NOSUID;
    if (option == "nodev") attrs |= MOUNT_ATTR_NODEV;
    if (option == "noexec") attrs |= MOUNT_ATTR_NOEXEC;
  }
  if (rootfs.type == "bind") {
    UniqueFd tree = idmapped_clone(rootfs.source, userns.get(), true, "rootfs");
    if (::move_mount(tree.get(), "", AT_FDCWD, target.c_str(), MOVE_MOUNT_F_EMPTY_PATH) != 0) {
      throw_errno("mount the idmapped container rootfs at " + target);
    }
    if (readonly) ::mount(nullptr, target.c_str(), nullptr, MS_BIND | MS_REMOUNT | MS_RDONLY, nullptr);
    return;
  }
  if (rootfs.type != "overlay") {
    throw Error(ErrorKind::kFailedPrecondition,
                "a rootfs of type " + rootfs.type + " cannot be idmapped for a pod with a user namespace");
  }
  UniqueFd fs(::fsopen("overlay", FSOPEN_CLOEXEC));
  if (!fs) throw_errno(ErrorKind::kFailedPrecondition, errno, "fsopen overlay (new mount API) for the idmapped rootfs");
  std::vector<UniqueFd> layers;
  for (const auto& option : rootfs.options) {
    auto eq = option.find('=');
    if (eq == std::string::npos) {
      if (option.empty() || option == "ro" || option == "rw" || option == "nosuid" || option == "nodev" ||
          option == "noexec") {
        continue;
      }
      if (::fsconfig(fs.get(), FSCONFIG_SET_FLAG, option.c_str(), nullptr, 0) != 0) {
        throw_errno(ErrorKind::kInvalidArgument, errno, "overlay option " + option + fs_context_log(fs.get()));
      }
      continue;
    }
    std::string key = option.substr(0, eq), value = option.substr(eq + 1);
    if (key == "lowerdir") {
      size_t start = 0;
      while (start <= value.size()) {
        size_t colon = value.find(':', start);
        std::string dir = value.substr(start, colon == std::string::npos ? std::string::npos : colon - start);
        UniqueFd layer = idmapped_clone(dir, userns.get(), false, "image layer");
        if (::fsconfig(fs.get(), FSCONFIG_SET_FD, "lowerdir+", nullptr, layer.get()) != 0) {
          throw_errno(ErrorKind::kFailedPrecondition, errno,
                      "overlay refused the idmapped image layer " + dir + " as a descriptor (Linux 6.13+ needed)" +
                          fs_context_log(fs.get()));
        }
        layers.push_back(std::move(layer));
        if (colon == std::string::npos) break;
        start = colon + 1;
      }
      continue;
    }
    if (key == "upperdir" && ::lchown(value.c_str(), root_uid, root_gid) != 0) {
      throw_errno("give the container's upper dir " + value + " to the pod's root");
    }
    if (::fsconfig(fs.get(), FSCONFIG_SET_STRING, key.c_str(), value.c_str(), 0) != 0) {
      throw_errno(ErrorKind::kInvalidArgument, errno, "overlay option " + option + fs_context_log(fs.get()));
    }
  }
  if (::fsconfig(fs.get(), FSCONFIG_CMD_CREATE, nullptr, nullptr, 0) != 0) {
    throw_errno(ErrorKind::kFailedPrecondition, errno,
                "create an overlay over idmapped image layers" + fs_context_log(fs.get()));
  }
  UniqueFd mnt(::fsmount(fs.get(), FSMOUNT_CLOEXEC, static_cast<unsigned>(attrs | (readonly ? MOUNT_ATTR_RDONLY : 0))));
  if (!mnt) throw_errno("fsmount the idmapped container rootfs");
  if (::move_mount(mnt.get(), "", AT_FDCWD, target.c_str(), MOVE_MOUNT_F_EMPTY_PATH) != 0) {
    throw_errno("mount the idmapped container rootfs at " + target);
  }
}

// The mounts the monitor will idmap: tried here once, so that CreateContainer (not the start)
// fails with what the kernel refuses.
void check_idmapped_mounts(const monitor::BundleSpec& spec, const std::string& userns_path) {
  UniqueFd userns(::open(userns_path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!userns) throw_errno("open the pod's user namespace " + userns_path);
  for (const auto& m : spec.mounts) {
    bool idmap = false, recursive = false;
    for (const auto& o : m.options) {
      idmap |= o == "idmap";
      recursive |= o == "rbind";
    }
    if (idmap) idmapped_clone(m.source, userns.get(), recursive, "mount " + m.destination + " from");
  }
}

// The container's user namespace must be the pod's (CRI: containers of a pod share it).
void check_container_user_namespace(const ContainerConfig& config, const std::optional<UserNamespaceConfig>& pod_userns,
                                    const std::string& sandbox_id) {
  if (config.userns) {
    const UserNamespaceConfig& want = *config.userns;
    if (want.mode == NamespaceMode::kPod) {
      if (!pod_userns) {
        throw Error(ErrorKind::kInvalidArgument, "container asks for the pod's user namespace (userns mode POD), but pod " +
                                                     sandbox_id + " was created without one (mode NODE)");
      }
      if (want.uids != pod_userns->uids || want.gids != pod_userns->gids) {
        throw Error(ErrorKind::kInvalidArgument, "container's user namespace mappings (uids " + id_map_text(want.uids) +
                                                     ", gids " + id_map_text(want.gids) + ") differ from pod " +
                                                     sandbox_id + "'s (uids " + id_map_text(pod_userns->uids) +
                                                     ", gids " + id_map_text(pod_userns->gids) + ")");
      }
    } else if (want.mode == NamespaceMode::kNode) {
      if (pod_userns) {
        throw Error(ErrorKind::kInvalidArgument, "container asks for the host's user namespace (userns mode NODE), but pod " +
                                                     sandbox_id + " has one of its own, which its containers share");
      }
    } else {
      throw Error(ErrorKind::kInvalidArgument, "user namespace mode must be POD or NODE");
    }
  }
  for (const auto& m : config.mount_idmappings) {
    if (!pod_userns) {
      throw Error(ErrorKind::kInvalidArgument, "mount " + m.container_path +
                                                   " asks for uid/gid mappings, but the pod has no user namespace");
    }
    if (m.uids != pod_userns->uids || m.gids != pod_userns->gids) {
      throw Error(ErrorKind::kInvalidArgument, "mount " + m.container_path +
                                                   ": uid/gid mappings other than the pod's user namespace's are not supported");
    }
  }
}

void unmount_rootfs(const std::string& target) {
  if (::umount2(target.c_str(), 0) == 0) return;
  if (errno == EINVAL || errno == ENOENT) return;  // not mounted
  if (::umount2(target.c_str(), MNT_DETACH) != 0 && errno != EINVAL && errno != ENOENT) {
    throw_errno("unmount the container rootfs at " + target);
  }
}

std::string join_log_path(const std::string& directory, const std::string& relative) {
  if (relative.empty()) return "";
  if (relative[0] == '/' || directory.empty()) return relative;
  return directory + "/" + relative;
}

// argv[0] as the monitor will find it: absolute, or searched in the container's PATH.
void check_command_exists(const std::string& rootfs, const monitor::ProcessSpec& process) {
  const std::string& cmd = process.args[0];
  if (cmd.find('/') != std::string::npos) {
    std::string absolute = cmd[0] == '/' ? cmd : process.cwd + "/" + cmd;
    if (!executable_in_root(rootfs, absolute)) {
      throw Error(ErrorKind::kInvalidArgument, "executable " + cmd + " not found in the image (or not executable)");
    }
    return;
  }
  std::string path;
  for (const auto& kv : process.env) {
    if (kv.rfind("PATH=", 0) == 0) path = kv.substr(5);
  }
  std::istringstream dirs(path);
  std::string dir;
  while (std::getline(dirs, dir, ':')) {
    if (dir.empty() || dir[0] != '/') continue;
    if (executable_in_root(rootfs, dir + "/" + cmd)) return;
  }
  throw Error(ErrorKind::kInvalidArgument, "executable \"" + cmd + "\" not found in $PATH of the image");
}

}  // namespace

std::string Runtime::Impl::create_container(const std::string& sandbox_id, const ContainerConfig& config,
                                            const ImageConfig& image, const Runtime::PrepareRootfs& prepare_rootfs) {
  std::string id = random_hex(32);
  auto sandbox = get_sandbox(sandbox_id);
  SandboxRecord pod;
  {
    std::lock_guard lock(sandbox->mu);
    pod = sandbox->record;
  }
  if (pod.info.state != SandboxState::kReady) {
    throw Error(ErrorKind::kFailedPrecondition, "pod sandbox " + pod.info.id + " is not ready");
  }
  if (config.name.empty()) throw Error(ErrorKind::kInvalidArgument, "container metadata.name is required");
  if (config.run_as_group && !config.run_as_user && config.run_as_username.empty()) {
    throw Error(ErrorKind::kInvalidArgument, "run_as_group is set without run_as_user or run_as_username");
  }
  std::string pod_dir = sandbox_dir(pod.info.id);
  // The record's config has the mappings; after a restart of crispd the sandbox dir keeps them.
  std::optional<UserNamespaceConfig> pod_userns =
      pod.info.config.userns.mode == NamespaceMode::kPod ? std::optional(pod.info.config.userns)
                                                         : load_pod_user_namespace(pod_dir);
  check_container_user_namespace(config, pod_userns, pod.info.id);
  const std::string userns_path = pod_userns ? pod_dir + "/ns/user" : "";
  std::string name_key = container_name_key(pod.info.id, config);
  {
    std::lock_guard lock(mu_);
    if (!container_names_.insert(name_key).second) {
      throw Error(ErrorKind::kAlreadyExists, "a container named " + name_key + " already exists");
    }
  }
  Cleanup release_name([&] {
    std::lock_guard lock(mu_);
    container_names_.erase(name_key);
  });

  auto entry = std::make_shared<ContainerEntry>();
  entry->name_key = name_key;
  ContainerRecord& r = entry->record;
  r.info.id = id;
  r.info.sandbox_id = pod.info.id;
  r.info.config = config;
  r.info.state = ContainerState::kCreated;
  r.info.created_at_ns = now_ns();
  r.info.log_path = join_log_path(pod.info.config.log_directory, config.log_path);
  r.creating = true;
  r.bundle_dir = bundle_dir(id);
  std::string rootfs_dir = r.bundle_dir + "/rootfs";

  // From here a crash of crispd leaves a "creating" record that recovery rolls back (a crash of
  // the host takes the mounts with it, so no fsync is needed for this one).
  store_.save(r, Durability::kNoSync);
  Cleanup undo([&] {
    teardown_container_resources(r);
    store_.remove_container(id);
    release_rootfs(id);
  });
  RootfsMount rootfs = prepare_rootfs(id);
  make_dirs(rootfs_dir, 0711);
  if (pod_userns) {
    // The bundle dir must let the pod's root step from the rootfs back into it (the monitor's
    // container init, see container_init.cc).
    ::chmod(r.bundle_dir.c_str(), 0711);
    mount_rootfs_idmapped(rootfs, rootfs_dir, userns_path, *host_id_of(pod_userns->uids, 0),
                          *host_id_of(pod_userns->gids, 0));
  } else {
    mount_rootfs(rootfs, rootfs_dir);
  }

  UserRequest user_request{config.run_as_user, config.run_as_username, config.run_as_group,
                           config.supplemental_groups, image.user};
  ResolvedUser user = resolve_user(user_request, read_file_in_root(rootfs_dir, "/etc/passwd").value_or(""),
                                   read_file_in_root(rootfs_dir, "/etc/group").value_or(""));

  SpecInputs inputs;
  inputs.config = config;
  inputs.image = image;
  inputs.user = user;
  inputs.userns_path = userns_path;
  bool own_ipc = pod.info.config.ipc != NamespaceMode::kNode;
  bool own_net = pod.info.config.network != NamespaceMode::kNode;
  inputs.pod_namespaces.net = own_net ? pod_dir + "/ns/net" : "";
  inputs.pod_namespaces.uts = own_net ? pod_dir + "/ns/uts" : "";
  inputs.pod_namespaces.ipc = own_ipc ? pod_dir + "/ns/ipc" : "";
  if (config.pid_namespace == NamespaceMode::kPod) {
    if (pod.info.pod_init_pid <= 0) {
      throw Error(ErrorKind::kInvalidArgument, "container asks for the pod's pid namespace, but pod " +
                                                   pod.info.id + " was not created with pid POD");
    }
    inputs.pod_namespaces.pid = "/proc/" + std::to_string(pod.info.pod_init_pid) + "/ns/pid";
  } else if (config.pid_namespace == NamespaceMode::kTarget) {
    auto target = find_container(config.pid_target_id);
    if (!target) throw Error(ErrorKind::kNotFound, "pid target container " + config.pid_target_id + " not found");
    std::lock_guard lock(target->mu);
    if (target->record.info.state != ContainerState::kRunning) {
      throw Error(ErrorKind::kFailedPrecondition, "pid target container " + config.pid_target_id + " is not running");
    }
    inputs.pod_namespaces.pid = "/proc/" + std::to_string(target->record.info.pid) + "/ns/pid";
  }
  inputs.pod_files = pod_file_paths(pod_dir, own_ipc);
  inputs.rootfs = rootfs_dir;
  inputs.log_path = r.info.log_path;
  inputs.log_max_line = options_.max_log_line;
  monitor::BundleSpec spec = build_bundle_spec(inputs);
  if (pod_userns) check_idmapped_mounts(spec, userns_path);
  for (const auto& option : rootfs.options) {
    if (option.rfind("upperdir=", 0) == 0) r.writable_layer = option.substr(9);
  }
  apply_container_limits(pod, r, spec);
  spec.control_socket = control_socket(id);
  check_command_exists(rootfs_dir, spec.process);
  r.stop_signal = parse_stop_signal(image.stop_signal);
  r.process = spec.process;
  entry->spec_text = monitor::encode_bundle_spec(spec);
  write_state_file(r.bundle_dir + "/" + monitor::kSpecFileName, entry->spec_text, 0600);

  r.creating = false;
  store_.save(r);
  {
    std::lock_guard lock(mu_);
    containers_[id] = entry;
  }
  undo.dismiss();
  release_name.dismiss();
  publish(EventType::kContainerCreated, id, pod.info.id);
  return id;
}

// In a pod-wide pid namespace the container's init is not pid 1, so its children outlive it
// (reparented to the pod-init): SIGKILL whatever is left in the container's cgroup, as runc does
// for containers without a pid namespace of their own.
void Runtime::Impl::kill_leftover_processes(const ContainerRecord& record) {
  if (!cgroups_ || record.info.cgroup_path.empty()) return;
  for (int round = 0; round < 50; ++round) {
    std::vector<pid_t> pids;
    try {
      if (!cgroups_->exists(record.info.cgroup_path)) return;
      pids = cgroups_->pids(record.info.cgroup_path);
    } catch (const std::exception&) {
      return;
    }
    if (pids.empty()) return;
    for (pid_t pid : pids) ::kill(pid, SIGKILL);
    std::this_thread::sleep_for(std::chrono::milliseconds(round < 10 ? 2 : 20));
  }
}

void Runtime::Impl::teardown_container_resources(const ContainerRecord& record) {
  kill_leftover_processes(record);
  if (record.bundle_dir.empty()) return;
  if (!record.info.id.empty()) ::unlink(control_socket(record.info.id).c_str());
  unmount_rootfs(record.bundle_dir + "/rootfs");
  if (::access(record.bundle_dir.c_str(), F_OK) == 0) remove_tree(record.bundle_dir);
  remove_container_cgroup(record);
}

void Runtime::Impl::start_container(const std::string& id) {
  auto entry = get_container(id);
  std::unique_lock lock(entry->mu);
  ContainerRecord& r = entry->record;
  if (entry->removing) throw Error(ErrorKind::kNotFound, "container " + id + " is being removed");
  if (r.info.state != ContainerState::kCreated || entry->starting) {
    throw Error(ErrorKind::kFailedPrecondition, "container " + r.info.id + " is not in the created state");
  }
  auto sandbox = get_sandbox(r.info.sandbox_id);
  {
    std::lock_guard pod_lock(sandbox->mu);
    if (sandbox->record.info.state != SandboxState::kReady) {
      throw Error(ErrorKind::kFailedPrecondition, "pod sandbox " + r.info.sandbox_id + " is not ready");
    }
  }
  const std::string cid = r.info.id;
  const std::string sandbox_id = r.info.sandbox_id;
  const std::string bundle = r.bundle_dir;
  const std::string log_path = r.info.log_path;
  entry->starting = true;
  lock.unlock();
  // Whatever happens below, waiters (stop, remove) are released.
  Cleanup done_starting([&] {
    std::lock_guard relock(entry->mu);
    entry->starting = false;
    entry->started_cv.notify_all();
  });

  monitor::StartedContainer started;
  std::optional<monitor::PidFile> pid_file;
  try {
    if (!log_path.empty()) {
      auto slash = log_path.rfind('/');
      if (slash != std::string::npos && slash > 0) make_dirs(log_path.substr(0, slash), 0755);
    }
    started = monitor::start_container_monitor(options_.monitor_path, bundle, bundle + "/monitor.log",
                                                options_.start_timeout);
    pid_file = monitor::read_pid_file(bundle + "/" + monitor::kPidFileName);
  } catch (const Error& e) {
    // As containerd: a container that failed to start is exited with reason StartError.
    {
      std::lock_guard relock(entry->mu);
      r.info.state = ContainerState::kExited;
      r.info.exit_code = 128;
      r.info.finished_at_ns = now_ns();
      r.info.reason = "StartError";
      r.info.message = e.what();
      store_.save(r, Durability::kNoSync);
    }
    publish(EventType::kContainerStopped, cid, sandbox_id);
    throw Error(e.kind() == ErrorKind::kFailedPrecondition ? ErrorKind::kInvalidArgument : e.kind(),
                "start container " + cid + ": " + e.what());
  }
  bool exited = false;
  {
    std::lock_guard relock(entry->mu);
    r.info.pid = started.pid;
    r.start_time = started.start_time;
    if (pid_file) {
      r.monitor_pid = pid_file->monitor_pid;
      r.monitor_start_time = pid_file->monitor_start_time;
    }
    r.info.state = ContainerState::kRunning;
    r.info.started_at_ns = now_ns();
    store_.save(r, Durability::kNoSync);
    register_container_cgroup(r);  // systemd driver: the container's scope unit (container_limits.cc)
    publish(EventType::kContainerStarted, cid, sandbox_id);
    watch_monitor(*entry);
    exited = r.info.state == ContainerState::kExited;
  }
  if (exited) publish(EventType::kContainerStopped, cid, sandbox_id);
}

void Runtime::Impl::stop_container(const std::string& id, std::chrono::seconds timeout) {
  auto entry = get_container(id);
  pid_t pid = 0, monitor_pid = 0;
  uint64_t start_time = 0, monitor_start_time = 0;
  int stop_signal = SIGTERM;
  std::string cid;
  {
    std::unique_lock lock(entry->mu);
    entry->started_cv.wait(lock, [&] { return !entry->starting; });
    const ContainerRecord& r = entry->record;
    if (r.info.state != ContainerState::kRunning) return;
    pid = r.info.pid;
    start_time = r.start_time;
    monitor_pid = r.monitor_pid;
    monitor_start_time = r.monitor_start_time;
    stop_signal = r.stop_signal;
    cid = r.info.id;
  }
  UniqueFd monitor_fd = open_pidfd(monitor_pid);
  if (monitor_fd && !process_alive(monitor_pid, monitor_start_time)) monitor_fd.reset();
  UniqueFd pidfd = open_pidfd(pid);
  if (pidfd && process_alive(pid, start_time)) {
    bool gone = false;
    if (timeout.count() > 0) {
      if (signal_pidfd(pidfd.get(), stop_signal)) {
        gone = wait_pidfd_exit(pidfd.get(), timeout);
      } else {
        gone = true;
      }
    }
    if (!gone && signal_pidfd(pidfd.get(), SIGKILL)) {
      wait_pidfd_exit(pidfd.get(), std::chrono::seconds(10));
    }
  }
  {
    std::lock_guard lock(entry->mu);
    kill_leftover_processes(entry->record);
  }
  // The monitor writes the exit file, then exits: wait for that before reading it.
  if (monitor_fd) wait_pidfd_exit(monitor_fd.get(), std::chrono::seconds(10));
  handle_monitor_exit(cid);
}

void Runtime::Impl::remove_container(const std::string& id) {
  auto entry = find_container(id);
  if (!entry) return;
  std::string cid;
  {
    std::lock_guard lock(entry->mu);
    entry->removing = true;
    cid = entry->record.info.id;
  }
  stop_container(cid, std::chrono::seconds(0));
  std::string sandbox_id;
  {
    std::unique_lock lock(entry->mu);
    entry->started_cv.wait(lock, [&] { return !entry->starting; });
    ContainerRecord& r = entry->record;
    if (r.info.state == ContainerState::kRunning) {
      entry->removing = false;
      throw Error(ErrorKind::kInternal, "container " + cid + " could not be stopped for removal");
    }
    watcher_->unwatch(cid);
    teardown_container_resources(r);
    store_.remove_container(cid);
    sandbox_id = r.info.sandbox_id;
  }
  {
    std::lock_guard lock(mu_);
    containers_.erase(cid);
    container_names_.erase(entry->name_key);
  }
  release_rootfs(cid);
  publish(EventType::kContainerDeleted, cid, sandbox_id);
}

ExecCommand Runtime::Impl::prepare_exec(const std::string& id, const std::vector<std::string>& cmd, bool tty) {
  if (cmd.empty()) throw Error(ErrorKind::kInvalidArgument, "exec: empty command");
  auto entry = get_container(id);
  pid_t pid = 0;
  monitor::ProcessSpec process;
  ExecCommand exec;
  {
    std::lock_guard lock(entry->mu);
    const ContainerRecord& r = entry->record;
    if (r.info.state != ContainerState::kRunning) {
      throw Error(ErrorKind::kFailedPrecondition, "container " + r.info.id + " is not running");
    }
    pid = r.info.pid;
    process = r.process;
    exec.spec_path = r.bundle_dir + "/exec-" + random_hex(8) + ".spec";
  }
  process.args = cmd;
  process.terminal = tty;
  process.stdin = false;
  process.stdin_once = false;
  write_state_file(exec.spec_path, monitor::encode_process_spec(process), 0600);
  exec.argv = {options_.monitor_path, "exec", "--pid", std::to_string(pid)};
  if (tty) exec.argv.push_back("--tty");
  exec.argv.push_back("--spec");
  exec.argv.push_back(exec.spec_path);
  exec.argv.push_back("--");
  exec.argv.insert(exec.argv.end(), cmd.begin(), cmd.end());
  return exec;
}

ExecResult Runtime::Impl::exec_sync(const std::string& id, const std::vector<std::string>& cmd,
                                    std::chrono::milliseconds timeout) {
  ExecCommand exec = prepare_exec(id, cmd, false);
  Cleanup remove_spec([&] { ::unlink(exec.spec_path.c_str()); });
  ExecSyncRequest request;
  request.argv = exec.argv;
  request.timeout = timeout;
  return run_exec_sync(request);
}

void Runtime::Impl::reopen_container_log(const std::string& id) {
  auto entry = get_container(id);
  std::string socket;
  {
    std::lock_guard lock(entry->mu);
    const ContainerRecord& r = entry->record;
    if (r.info.state != ContainerState::kRunning) {
      throw Error(ErrorKind::kFailedPrecondition, "container " + r.info.id + " is not running");
    }
    socket = control_socket(r.info.id);
  }
  std::string reply = monitor::send_control_command(socket, "reopen-log");
  if (reply != "ok") throw Error(ErrorKind::kInternal, "reopen log of container " + id + ": " + reply);
}

}  // namespace crisp::runtime
