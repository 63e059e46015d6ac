#pragma once
// One interface for the three ways crisp manages cgroups:
//   cgroupfs v1   one hierarchy per controller under <root>/<controller> (these machines)
//   cgroupfs v2   the unified hierarchy at <root>, controllers enabled through subtree_control
//   systemd       transient slices/scopes over D-Bus (systemd_driver.h), files written like v1/v2
// Every driver takes the root of the cgroup filesystem (normally /sys/fs/cgroup) so unit tests
// can run against a fake tree in a temp dir.
//
// Paths given to and returned by a driver are cgroup paths relative to the hierarchy root and
// start with '/', e.g. "/kubepods/burstable/pod1234/<container id>" or, with systemd,
// "/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod1234.slice/crisp-<id>.scope".
//
// Thread-safety: drivers keep no mutable state besides the systemd connection (guarded inside).
#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "runtime/cgroups/cgroup_resources.h"

namespace crisp::cgroups {

enum class CgroupVersion { kV1, kV2 };

struct CgroupStats {
  uint64_t cpu_usage_ns = 0;        // cumulative CPU time of all tasks
  uint64_t cpu_user_ns = 0;
  uint64_t cpu_system_ns = 0;
  uint64_t memory_usage_bytes = 0;  // usage incl. page cache
  uint64_t memory_working_set_bytes = 0;  // usage - inactive_file (never below 0)
  uint64_t memory_rss_bytes = 0;          // anonymous memory (v1 total_rss, v2 anon)
  uint64_t memory_page_faults = 0;
  uint64_t memory_major_page_faults = 0;
  uint64_t memory_limit_bytes = 0;      // 0 = unlimited
  uint64_t memory_available_bytes = 0;  // limit - working set; 0 when unlimited
  uint64_t pids_current = 0;
  uint64_t pids_limit = 0;  // 0 = unlimited
  uint64_t oom_kills = 0;   // OOM kills inside this cgroup so far
  // For the cAdvisor-style metrics (ListPodSandboxMetrics).
  uint64_t memory_cache_bytes = 0;      // page cache (v1 total_cache, v2 file)
  uint64_t memory_swap_bytes = 0;       // swap in use (v1 total_swap, v2 memory.swap.current)
  uint64_t memory_max_usage_bytes = 0;  // peak usage (v1 max_usage_in_bytes, v2 memory.peak; 0 if unknown)
  uint64_t memory_failcnt = 0;          // times usage hit the limit (v1 failcnt, v2 memory.events max)
  uint64_t cpu_periods = 0;             // CFS enforcement periods elapsed
  uint64_t cpu_throttled_periods = 0;
  uint64_t cpu_throttled_ns = 0;
  uint64_t process_count = 0;  // processes (cgroup.procs entries); pids_current counts threads
};

// What to create. The path comes from pod_cgroup_path()/container_cgroup_path().
struct CgroupRequest {
  std::string path;
  CgroupResources resources;
  // systemd only: processes placed in a new scope (systemd refuses empty scopes: create() of a
  // scope without pids only makes its cgroup, register_processes() later starts the unit).
  // Ignored by the cgroupfs drivers, where the container's init joins through procs_files().
  std::vector<pid_t> pids;
};

class CgroupDriver {
 public:
  virtual ~CgroupDriver() = default;

  virtual CgroupVersion version() const = 0;
  // "cgroupfs" or "systemd" (the kubelet's cgroupDriver names).
  virtual const char* name() const = 0;

  // The pod's cgroup path for the kubelet's cgroup_parent (cgroupfs: "/kubepods/pod<uid>",
  // systemd: "kubepods-burstable-pod<uid>.slice"). An empty parent gives crisp's own default
  // for the sandbox ("/crisp/<sandbox id>" or "crisp-<sandbox id>.slice" ...).
  // Throws kInvalidArgument for a parent not in the driver's syntax.
  virtual std::string pod_cgroup_path(const std::string& cgroup_parent,
                                      const std::string& sandbox_id) const = 0;
  // The container's cgroup under its pod's cgroup path.
  virtual std::string container_cgroup_path(const std::string& pod_path,
                                            const std::string& container_id) const = 0;

  // Creates the cgroup (and missing parents) and applies the resources. Validates first: bad
  // resources -> kInvalidArgument and nothing created. Creating an existing cgroup updates it.
  virtual void create(const CgroupRequest& request) = 0;
  // Applies resources to an existing cgroup (only the fields that are set).
  virtual void update(const std::string& path, const CgroupResources& resources) = 0;
  virtual bool exists(const std::string& path) const = 0;
  virtual CgroupStats stats(const std::string& path) const = 0;
  // Number of OOM kills recorded in this cgroup (v1 memory.oom_control oom_kill,
  // v2 memory.events oom_kill); 0 when the cgroup is gone.
  virtual uint64_t oom_kill_count(const std::string& path) const = 0;
  // Absolute cgroup.procs paths a process writes its pid into to join the cgroup (one per v1
  // hierarchy, one on v2).
  virtual std::vector<std::string> procs_files(const std::string& path) const = 0;
  // The pids in the cgroup (from the first hierarchy's cgroup.procs).
  virtual std::vector<pid_t> pids(const std::string& path) const = 0;
  // Hands the cgroup to the cgroup manager once its first processes run in it: the systemd
  // driver starts the transient scope unit of a container cgroup (path ending in .scope) with
  // these pids (systemd refuses empty scopes, so create() only makes the cgroup directories);
  // cgroupfs drivers do nothing. Idempotent.
  // request: the cgroup's path, its resources (re-applied after systemd set up the unit) and pids.
  virtual void register_processes(const CgroupRequest& request) { (void)request; }
  // Removes the cgroup (all hierarchies), retrying rmdir while its tasks drain, up to timeout.
  // Missing cgroup is not an error. Throws kFailedPrecondition when tasks remain.
  virtual void remove(const std::string& path,
                      std::chrono::milliseconds timeout = std::chrono::milliseconds(2000)) = 0;
};

// cgroupfs driver on v1: root holds one directory per controller (cpu, cpuacct, cpuset, memory,
// pids, hugetlb, devices, ...); combined mounts like "cpu,cpuacct" are followed through their
// symlinks. Limits of a controller that is not mounted are skipped, as runc does (device rules
// without a devices hierarchy -> kUnimplemented).
std::unique_ptr<CgroupDriver> make_cgroupfs_v1_driver(const std::string& root = "/sys/fs/cgroup");
// cgroupfs driver on v2: root is the unified mount.
std::unique_ptr<CgroupDriver> make_cgroupfs_v2_driver(const std::string& root = "/sys/fs/cgroup");

// The driver the daemon config names: "cgroupfs" or "auto" (v1 or v2 as detected at root) or "systemd"
// (sd-bus on the system bus + cgroupfs files of the detected version). Unknown name ->
// kInvalidArgument; systemd on a host not booted with systemd (no /run/systemd/system) or
// without a reachable bus -> kUnavailable, with a message naming the cgroupfs alternative.
std::unique_ptr<CgroupDriver> make_cgroup_driver(const std::string& driver_name,
                                                 const std::string& root = "/sys/fs/cgroup");

// The version a root holds: kV2 when <root>/cgroup.controllers exists, else kV1.
CgroupVersion detect_cgroup_version(const std::string& root = "/sys/fs/cgroup");

}  // namespace crisp::cgroups
