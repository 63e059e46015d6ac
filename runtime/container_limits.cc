// Issue 5 in the container engine: pod and container cgroups (runtime/cgroups), the security of
// a container's process (runtime/security: capabilities, no_new_privs, seccomp, masked paths,
// privileged), device rules, OOM, stats and live resource updates.
#include <fcntl.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>

#include "runtime/base/error.h"
#include "runtime/cgroups/cgroupfs_paths.h"
#include "runtime/cgroups/device_rules.h"
#include "runtime/disk_usage.h"
#include "runtime/network_stats.h"
#include "runtime/process_util.h"
#include "runtime/runtime_impl.h"
#include "runtime/security/container_security.h"

namespace crisp::runtime {

namespace {

// Device nodes every container gets from the monitor (default_devices); a privileged container's
// host device list skips them.
bool is_default_device(const std::string& path) {
  static const char* const kDefault[] = {"/dev/null", "/dev/zero",   "/dev/full", "/dev/random", "/dev/urandom",
                                         "/dev/tty",  "/dev/ptmx",   "/dev/console", "/dev/fd", "/dev/stdin",
                                         "/dev/stdout", "/dev/stderr"};
  for (const char* d : kDefault) {
    if (path == d) return true;
  }
  return false;
}

void make_privileged(monitor::BundleSpec& spec) {
  // Writable /sys, every host device.
  for (auto& m : spec.mounts) {
    if (m.destination == "/sys") {
      std::erase(m.options, std::string("ro"));
      m.options.push_back("rw");
    }
  }
  for (const auto& d : cgroups::list_host_devices("/dev")) {
    if (is_default_device(d.path)) continue;
    bool present = std::any_of(spec.devices.begin(), spec.devices.end(),
                               [&](const monitor::DeviceSpec& s) { return s.path == d.path; });
    if (present) continue;
    spec.devices.push_back({d.path, d.type, d.major, d.minor, d.mode, d.uid, d.gid});
  }
}

std::vector<cgroups::DeviceRule> device_rules(const ContainerConfig& config, const monitor::BundleSpec& spec) {
  if (config.privileged) return {{true, 'a', -1, -1, "rwm"}};
  std::vector<cgroups::DeviceRule> rules = cgroups::default_device_rules();
  for (const auto& d : config.devices) {
    std::string permissions = d.permissions.empty() ? "rwm" : d.permissions;
    cgroups::validate_device_permissions(permissions);
    for (const auto& s : spec.devices) {
      if (s.path == d.container_path) rules.push_back({true, s.type, s.major, s.minor, permissions});
    }
  }
  return rules;
}

bool crisp_owns_pod_cgroup(const SandboxConfig& config) { return config.cgroup_parent.empty(); }

}  // namespace

std::string Runtime::Impl::create_sandbox_cgroup(const SandboxInfo& info) {
  if (!cgroups_) return "";
  std::string path = cgroups_->pod_cgroup_path(info.config.cgroup_parent, info.id);
  if (crisp_owns_pod_cgroup(info.config)) {
    cgroups_->create(cgroups::CgroupRequest{path, info.config.resources, {}});
  } else {
    // The kubelet's pod cgroup: containers go under it; crisp does not set its limits.
    cgroups::validate_resources(info.config.resources);
  }
  return path;
}

void Runtime::Impl::remove_sandbox_cgroup(const SandboxInfo& info) {
  if (!cgroups_ || !crisp_owns_pod_cgroup(info.config) || info.id.empty()) return;
  std::string path = info.cgroup_path.empty() ? cgroups_->pod_cgroup_path("", info.id) : info.cgroup_path;
  cgroups_->remove(path);
}

void Runtime::Impl::apply_container_limits(const SandboxRecord& pod, ContainerRecord& record,
                                           monitor::BundleSpec& spec) {
  const ContainerConfig& config = record.info.config;
  security::ContainerSecurityConfig sc = config.security;
  sc.privileged = config.privileged;
  security::ContainerSecurity sec =
      security::resolve_container_security(sc, spec.process.uid, pod.info.config.privileged, *seccomp_);
  spec.process.cap_bounding = sec.capabilities.bounding;
  spec.process.cap_effective = sec.capabilities.effective;
  spec.process.cap_permitted = sec.capabilities.permitted;
  spec.process.cap_inheritable = sec.capabilities.inheritable;
  spec.process.cap_ambient = sec.capabilities.ambient;
  spec.process.no_new_privs = sec.no_new_privs;
  spec.process.seccomp_bpf_path = sec.seccomp_bpf_path;
  spec.masked_paths = sec.paths.masked;
  spec.readonly_paths = sec.paths.readonly;
  for (const auto& w : sec.warnings) std::fprintf(stderr, "crisp runtime: container %s: %s\n", record.info.id.c_str(), w.c_str());
  if (config.oom_score_adj) {
    if (*config.oom_score_adj < -1000 || *config.oom_score_adj > 1000) {
      throw Error(ErrorKind::kInvalidArgument, "oom_score_adj " + std::to_string(*config.oom_score_adj) + " outside [-1000, 1000]");
    }
    spec.process.has_oom_score_adj = true;
    spec.process.oom_score_adj = *config.oom_score_adj;
  }
  if (config.privileged) make_privileged(spec);

  if (!cgroups_) return;
  cgroups::CgroupRequest request;
  std::string pod_path = pod.info.cgroup_path.empty()
                             ? cgroups_->pod_cgroup_path(pod.info.config.cgroup_parent, pod.info.id)
                             : pod.info.cgroup_path;
  request.path = cgroups_->container_cgroup_path(pod_path, record.info.id);
  request.resources = config.resources;
  request.resources.devices = device_rules(config, spec);
  cgroups::validate_resources(request.resources);
  // Recorded before it exists: a crash from here on rolls the cgroup back with the container.
  record.info.cgroup_path = request.path;
  // No fsync: cgroups do not outlive a host crash, only a crispd crash (page cache survives).
  store_.save(record, Durability::kNoSync);
  cgroups_->create(request);
  spec.cgroup_procs = cgroups_->procs_files(request.path);
}

void Runtime::Impl::register_container_cgroup(const ContainerRecord& record) {
  if (!cgroups_ || record.info.cgroup_path.empty() || record.info.pid <= 0) return;
  try {
    cgroups_->register_processes(
        cgroups::CgroupRequest{record.info.cgroup_path, record.info.config.resources, {record.info.pid}});
  } catch (const std::exception& e) {
    // The container runs with its limits (the cgroupfs files are set); only systemd's view of it
    // is missing (e.g. the process exited before the unit was made).
    std::fprintf(stderr, "crisp runtime: container %s: register cgroup %s: %s\n", record.info.id.c_str(),
                 record.info.cgroup_path.c_str(), e.what());
  }
}

void Runtime::Impl::remove_container_cgroup(const ContainerRecord& record) {
  cpu_rates_.forget(record.info.id);
  if (!cgroups_ || record.info.cgroup_path.empty()) return;
  cgroups_->remove(record.info.cgroup_path);
}

std::string Runtime::Impl::oom_reason(const ContainerRecord& record) const {
  if (!cgroups_ || record.info.cgroup_path.empty()) return "";
  try {
    return cgroups_->oom_kill_count(record.info.cgroup_path) > 0 ? "OOMKilled" : "";
  } catch (const std::exception&) {
    return "";
  }
}

ResourceStats Runtime::Impl::resource_stats(const std::string& key, const std::string& cgroup_path,
                                            const std::string& writable_layer) {
  ResourceStats s;
  s.timestamp_ns = now_ns();
  if (cgroups_ && !cgroup_path.empty() && cgroups_->exists(cgroup_path)) {
    s.cgroup = cgroups_->stats(cgroup_path);
    s.cpu_nano_cores = cpu_rates_.sample(key, s.cgroup.cpu_usage_ns, s.timestamp_ns);
  }
  if (!writable_layer.empty()) {
    DiskUsage usage = directory_usage(writable_layer);
    s.writable_layer_path = writable_layer;
    s.writable_layer_bytes = usage.bytes;
    s.writable_layer_inodes = usage.inodes;
    struct statvfs fs;
    if (::statvfs(writable_layer.c_str(), &fs) == 0) {
      s.writable_layer_fs_capacity_bytes = static_cast<uint64_t>(fs.f_blocks) * fs.f_frsize;
      s.writable_layer_fs_inodes_total = fs.f_files;
      s.writable_layer_fs_inodes_free = fs.f_ffree;
    }
  }
  return s;
}

void Runtime::Impl::update_container_resources(const std::string& id, const cgroups::CgroupResources& resources,
                                               std::optional<int> oom_score_adj) {
  cgroups::validate_resources(resources);
  if (!resources.devices.empty()) {
    throw Error(ErrorKind::kInvalidArgument, "device rules cannot be updated");
  }
  auto entry = get_container(id);
  std::lock_guard lock(entry->mu);
  ContainerRecord& r = entry->record;
  if (r.info.state != ContainerState::kCreated && r.info.state != ContainerState::kRunning) {
    throw Error(ErrorKind::kFailedPrecondition, "container " + r.info.id + " is not created or running");
  }
  if (!cgroups_ || r.info.cgroup_path.empty()) {
    throw Error(ErrorKind::kFailedPrecondition, "container " + r.info.id + " has no cgroup (cgroups are off)");
  }
  cgroups_->update(r.info.cgroup_path, resources);
  if (oom_score_adj && r.info.pid > 0) {
    std::string path = "/proc/" + std::to_string(r.info.pid) + "/oom_score_adj";
    int fd = ::open(path.c_str(), O_WRONLY | O_CLOEXEC);
    if (fd >= 0) {
      std::string value = std::to_string(*oom_score_adj);
      if (::write(fd, value.data(), value.size()) < 0) {
        std::fprintf(stderr, "crisp runtime: %s: cannot set oom_score_adj\n", r.info.id.c_str());
      }
      ::close(fd);
    }
  }
  // Remember the new values (ContainerStatus reports the resources).
  cgroups::CgroupResources& have = r.info.config.resources;
  if (resources.cpu_shares) have.cpu_shares = resources.cpu_shares;
  if (resources.cpu_quota) have.cpu_quota = resources.cpu_quota;
  if (resources.cpu_period) have.cpu_period = resources.cpu_period;
  if (!resources.cpuset_cpus.empty()) have.cpuset_cpus = resources.cpuset_cpus;
  if (!resources.cpuset_mems.empty()) have.cpuset_mems = resources.cpuset_mems;
  if (resources.memory_limit) have.memory_limit = resources.memory_limit;
  if (resources.memory_swap) have.memory_swap = resources.memory_swap;
  if (resources.pids_limit) have.pids_limit = resources.pids_limit;
  if (!resources.hugepage_limits.empty()) have.hugepage_limits = resources.hugepage_limits;
  for (const auto& [k, v] : resources.unified) have.unified[k] = v;
  if (oom_score_adj) r.info.config.oom_score_adj = oom_score_adj;
  store_.save(r, Durability::kNoSync);
}

void Runtime::Impl::update_sandbox_resources(const std::string& id, const cgroups::CgroupResources& resources) {
  cgroups::validate_resources(resources);
  auto entry = get_sandbox(id);
  std::lock_guard lock(entry->mu);
  SandboxRecord& r = entry->record;
  // The kubelet sizes its own pod cgroups; only a pod cgroup crisp made is updated here.
  if (!cgroups_ || r.info.cgroup_path.empty() || !crisp_owns_pod_cgroup(r.info.config)) return;
  cgroups_->update(r.info.cgroup_path, resources);
}

ContainerStats Runtime::Impl::container_stats(const std::string& id) {
  auto entry = get_container(id);
  ContainerStats out;
  std::string layer;
  {
    std::lock_guard lock(entry->mu);
    out.info = entry->record.info;
    layer = entry->record.writable_layer;
  }
  // Only a running container's cgroup counters are its usage: a created one has not run yet and
  // an exited one's counters are history (containerd reports neither; crictl stats tells running
  // containers apart by non-zero cpu/memory).
  bool running = out.info.state == ContainerState::kRunning;
  out.stats = resource_stats(out.info.id, running ? out.info.cgroup_path : "", layer);
  return out;
}

SandboxStats Runtime::Impl::sandbox_stats(const std::string& id) {
  auto entry = get_sandbox(id);
  SandboxStats out;
  {
    std::lock_guard lock(entry->mu);
    out.info = entry->record.info;
  }
  out.stats = resource_stats(out.info.id, out.info.cgroup_path, "");
  // Network NODE pods have no namespace of their own: no network stats (as containerd).
  if (!out.info.netns_path.empty() && out.info.state == SandboxState::kReady) {
    try {
      out.stats.network = read_netns_interface_stats(out.info.netns_path);
    } catch (const Error& e) {
      std::fprintf(stderr, "crisp runtime: pod %s: network stats: %s\n", out.info.id.c_str(), e.what());
    }
  }
  for (const auto& c : containers_of(out.info.id)) {
    std::string cid;
    {
      std::lock_guard lock(c->mu);
      if (c->record.info.state != ContainerState::kRunning) continue;
      cid = c->record.info.id;
    }
    try {
      out.containers.push_back(container_stats(cid));
    } catch (const Error& e) {
      if (e.kind() != ErrorKind::kNotFound) throw;
    }
  }
  return out;
}

// Runtime's public API.

void Runtime::update_container_resources(const std::string& id, const cgroups::CgroupResources& resources,
                                         std::optional<int> oom_score_adj) {
  impl_->update_container_resources(id, resources, oom_score_adj);
}

void Runtime::update_sandbox_resources(const std::string& id, const cgroups::CgroupResources& resources) {
  impl_->update_sandbox_resources(id, resources);
}

ContainerStats Runtime::container_stats(const std::string& id) { return impl_->container_stats(id); }

// Every container the filter matches, as containerd: not running ones with their writable layer
// only (crictl stats -a lists them).
std::vector<ContainerStats> Runtime::list_container_stats(const ContainerFilter& filter) {
  std::vector<ContainerStats> out;
  for (const auto& info : list_containers(filter)) {
    try {
      out.push_back(impl_->container_stats(info.id));
    } catch (const Error& e) {
      if (e.kind() != ErrorKind::kNotFound) throw;
    }
  }
  return out;
}

SandboxStats Runtime::sandbox_stats(const std::string& id) { return impl_->sandbox_stats(id); }

std::vector<SandboxStats> Runtime::list_sandbox_stats(const SandboxFilter& filter) {
  std::vector<SandboxStats> out;
  for (const auto& info : list_sandboxes(filter)) {
    if (info.state != SandboxState::kReady) continue;
    try {
      out.push_back(impl_->sandbox_stats(info.id));
    } catch (const Error& e) {
      if (e.kind() != ErrorKind::kNotFound) throw;
    }
  }
  return out;
}

std::string Runtime::cgroup_driver_name() const { return impl_->cgroups_ ? impl_->cgroups_->name() : "none"; }

std::string Runtime::cgroup_version_name() const {
  if (!impl_->cgroups_) return "";
  return impl_->cgroups_->version() == cgroups::CgroupVersion::kV2 ? "v2" : "v1";
}

}  // namespace crisp::runtime
