#pragma once
// crisp's container engine: pod sandboxes (pinned namespaces, pod files) and containers (an
// overlay rootfs + a bundle spec run by one crisp-monitor per container). Thread-safe; every call
// may throw crisp::Error (unknown ids: kNotFound).
//
//   Runtime runtime({.root_dir = "/var/lib/crisp", .state_dir = "/run/crisp",
//                    .monitor_path = "/usr/lib/crisp/crisp-monitor"});
//   runtime.recover();
//   std::string pod = runtime.run_sandbox(sandbox_config);
//   std::string ctr = runtime.create_container(pod, container_config, image_config,
//                                              [&](const std::string& id) { return rootfs_for(id); });
//   runtime.start_container(ctr);
//
// On disk: <root_dir>/sandboxes/<id>.json and <root_dir>/containers/<id>.json (records, written
// atomically); <state_dir>/sandboxes/<id>/ (ns/{net,ipc,uts[,user]}, hostname, hosts, resolv.conf,
// shm/, userns = the pod's uid/gid mappings with userns mode POD)
// and <state_dir>/containers/<id>/ (the monitor's bundle: spec, rootfs/, pid, exit, control.sock).
#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "runtime/events.h"
#include "runtime/types.h"

namespace crisp::runtime {

struct RuntimeOptions {
  std::string root_dir;      // persistent records
  std::string state_dir;     // namespaces, pod files, bundles (tmpfs-like, may vanish on reboot)
  std::string monitor_path;  // crisp-monitor binary
  uint32_t max_log_line = 16384;
  // Called after a container's rootfs was unmounted for good (removal, failed creation, recovery
  // roll-back), so the image service can drop the container's snapshot. Must not throw.
  std::function<void(const std::string& container_id)> release_rootfs;
  std::chrono::milliseconds start_timeout = std::chrono::seconds(30);
  // Cgroups of pods and containers (runtime/cgroups): "cgroupfs"/"auto" or "systemd"; "none"
  // disables them (no limits, no stats).
  std::string cgroup_driver = "cgroupfs";
  std::string cgroup_root = "/sys/fs/cgroup";
};

class Runtime {
 public:
  explicit Runtime(RuntimeOptions options);
  // Stops watching monitors; containers keep running (as when crispd exits).
  ~Runtime();
  Runtime(const Runtime&) = delete;
  Runtime& operator=(const Runtime&) = delete;

  // Reloads records, re-adopts live monitors, collects exits that happened while down, rolls back
  // half-done creations. Call once, before serving.
  void recover();

  // Sandboxes.
  std::string run_sandbox(const SandboxConfig& config);
  void stop_sandbox(const std::string& id);    // stops its containers; idempotent
  void remove_sandbox(const std::string& id);  // removes its containers too; idempotent (unknown id: ok)
  SandboxInfo sandbox_status(const std::string& id) const;
  std::vector<SandboxInfo> list_sandboxes(const SandboxFilter& filter = {}) const;
  // Records the pod IPs reported by PodSandboxStatus (the network layer calls this).
  void set_sandbox_network(const std::string& id, const std::string& ip,
                           const std::vector<std::string>& additional_ips);

  // Containers. prepare_rootfs(container_id) is called once the new id is reserved and returns the
  // mount to use (e.g. ImageService::prepare_rootfs); from then on release_rootfs(id) is called
  // when the container goes, including when this call fails.
  using PrepareRootfs = std::function<RootfsMount(const std::string& container_id)>;
  std::string create_container(const std::string& sandbox_id, const ContainerConfig& config,
                               const ImageConfig& image, const PrepareRootfs& prepare_rootfs);
  void start_container(const std::string& id);
  // Stop signal, then SIGKILL after timeout; idempotent.
  void stop_container(const std::string& id, std::chrono::seconds timeout);
  void remove_container(const std::string& id);  // stops first; unknown id: ok
  ContainerInfo container_status(const std::string& id) const;
  std::vector<ContainerInfo> list_containers(const ContainerFilter& filter = {}) const;
  // Runs cmd in the container; timeout 0 = none.
  ExecResult exec_sync(const std::string& id, const std::vector<std::string>& cmd,
                       std::chrono::milliseconds timeout);
  void reopen_container_log(const std::string& id);
  // For the CRI streaming server. The container must be running (else kFailedPrecondition).
  ExecCommand prepare_exec(const std::string& id, const std::vector<std::string>& cmd, bool tty);
  // The monitor's control socket (runtime/monitor/protocol.h: attach, resize, signal).
  std::string control_socket_path(const std::string& id) const;

  // Resource limits and stats (container_limits.cc). update_*: only the set fields change;
  // bad values -> kInvalidArgument, nothing changed.
  void update_container_resources(const std::string& id, const cgroups::CgroupResources& resources,
                                  std::optional<int> oom_score_adj);
  void update_sandbox_resources(const std::string& id, const cgroups::CgroupResources& resources);
  // Containers that are not running get their writable layer only (zero cgroup stats); the list
  // holds every container the filter matches, as containerd's. Sandbox stats: the pod cgroup, its
  // running containers and, for pods with a netns of their own, its interfaces (stats.network).
  ContainerStats container_stats(const std::string& id);
  std::vector<ContainerStats> list_container_stats(const ContainerFilter& filter = {});
  SandboxStats sandbox_stats(const std::string& id);
  std::vector<SandboxStats> list_sandbox_stats(const SandboxFilter& filter = {});
  // CRI userns mode POD: probed once (can a user namespace be made and a tmpfs idmapped with it?).
  bool user_namespaces_supported() const;

  // "cgroupfs", "systemd" or "none", and "v1"/"v2".
  std::string cgroup_driver_name() const;
  std::string cgroup_version_name() const;

  EventBus& events();

  class Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace crisp::runtime
