#pragma once
// Internals of crisp::runtime::Runtime, shared by runtime.cc (lookups, events, exit handling),
// sandbox.cc, container.cc and recovery.cc.
//
// Locking: mu_ guards only the maps and name reservations and is never held across a syscall that
// may block. Each sandbox/container entry has its own mutex guarding its record; slow work
// (mounts, monitor launch, stop waits) holds at most that entry's mutex. Order: entry mutexes are
// never taken while mu_ is held, except briefly to copy a record (list/status).
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "runtime/cgroups/cgroup_driver.h"
#include "runtime/cgroups/cpu_rate.h"
#include "runtime/events.h"
#include "runtime/monitor_client.h"
#include "runtime/runtime.h"
#include "runtime/state_store.h"

namespace crisp::runtime {

struct SandboxEntry {
  std::mutex mu;  // guards record; held across the sandbox's own slow steps (stop, remove)
  SandboxRecord record;
  std::string name_key;
};

struct ContainerEntry {
  std::mutex mu;  // guards record, spec_text, starting, removing; never held across the monitor launch
  std::condition_variable started_cv;  // signalled when starting turns false
  ContainerRecord record;
  std::string spec_text;
  std::string name_key;
  bool starting = false;  // a StartContainer is launching the monitor (the lock is released meanwhile)
  bool removing = false;
};

class Runtime::Impl {
 public:
  explicit Impl(RuntimeOptions options);

  // runtime.cc
  std::shared_ptr<SandboxEntry> find_sandbox(const std::string& id) const;  // exact or unique prefix; nullptr
  std::shared_ptr<SandboxEntry> get_sandbox(const std::string& id) const;   // throws kNotFound
  std::shared_ptr<ContainerEntry> find_container(const std::string& id) const;
  std::shared_ptr<ContainerEntry> get_container(const std::string& id) const;
  std::vector<std::shared_ptr<ContainerEntry>> containers_of(const std::string& sandbox_id) const;
  void publish(EventType type, const std::string& container_id, const std::string& sandbox_id);
  std::string sandbox_dir(const std::string& id) const { return options_.state_dir + "/sandboxes/" + id; }
  std::string bundle_dir(const std::string& id) const { return options_.state_dir + "/containers/" + id; }
  // The monitor's control socket: outside the bundle so that the path stays within the 107 bytes
  // of a unix socket address even for long state dirs.
  std::string control_socket(const std::string& id) const {
    return options_.state_dir + "/sock/" + id.substr(0, 24) + ".sock";
  }
  // Exit of a monitor (watcher thread, stop, recovery): reads the exit file and records it.
  void handle_monitor_exit(const std::string& container_id);
  // Records the exit of a locked entry whose monitor is gone; true if the state changed.
  bool record_exit_locked(ContainerEntry& entry);
  // Watches the monitor of a running container; records the exit at once if it is already gone.
  void watch_monitor(ContainerEntry& entry);
  void release_rootfs(const std::string& container_id) const;

  // sandbox.cc
  std::string run_sandbox(const SandboxConfig& config);
  void stop_sandbox(const std::string& id);
  void remove_sandbox(const std::string& id);
  void teardown_sandbox_resources(const SandboxRecord& record);

  // container.cc
  std::string create_container(const std::string& sandbox_id, const ContainerConfig& config,
                               const ImageConfig& image, const Runtime::PrepareRootfs& prepare_rootfs);
  void start_container(const std::string& id);
  void stop_container(const std::string& id, std::chrono::seconds timeout);
  void remove_container(const std::string& id);
  void kill_leftover_processes(const ContainerRecord& record);
  void teardown_container_resources(const ContainerRecord& record);
  ExecResult exec_sync(const std::string& id, const std::vector<std::string>& cmd,
                       std::chrono::milliseconds timeout);
  void reopen_container_log(const std::string& id);
  ExecCommand prepare_exec(const std::string& id, const std::vector<std::string>& cmd, bool tty);

  // container_limits.cc (issue 5: cgroups, security, stats)
  // Pod cgroup: created for a sandbox with no cgroup_parent (crisp owns it) or a parent that
  // does not exist yet; returns its path ("" with cgroups off).
  std::string create_sandbox_cgroup(const SandboxInfo& info);
  void remove_sandbox_cgroup(const SandboxInfo& info);
  // Fills the security part of the spec and creates the container's cgroup (path recorded in
  // record.info.cgroup_path before it is made, so a crash rolls it back); spec.cgroup_procs set.
  void apply_container_limits(const SandboxRecord& pod, ContainerRecord& record, monitor::BundleSpec& spec);
  void remove_container_cgroup(const ContainerRecord& record);
  // Once the container's init runs (record.info.pid set): hands its cgroup to the cgroup manager
  // (systemd: the transient scope with that pid). Logs failures, never throws.
  void register_container_cgroup(const ContainerRecord& record);
  // "OOMKilled" when the kernel OOM-killed a task of the container's cgroup, else "".
  std::string oom_reason(const ContainerRecord& record) const;
  ResourceStats resource_stats(const std::string& key, const std::string& cgroup_path,
                               const std::string& writable_layer);
  void update_container_resources(const std::string& id, const cgroups::CgroupResources& resources,
                                  std::optional<int> oom_score_adj);
  void update_sandbox_resources(const std::string& id, const cgroups::CgroupResources& resources);
  ContainerStats container_stats(const std::string& id);
  SandboxStats sandbox_stats(const std::string& id);

  // recovery.cc
  void recover();
  void remove_unrecorded_directories();

  RuntimeOptions options_;
  StateStore store_;
  EventBus events_;

  mutable std::mutex mu_;  // guards sandboxes_, containers_, sandbox_names_, container_names_
  std::map<std::string, std::shared_ptr<SandboxEntry>> sandboxes_;
  std::map<std::string, std::shared_ptr<ContainerEntry>> containers_;
  std::set<std::string> sandbox_names_;
  std::set<std::string> container_names_;

  std::unique_ptr<cgroups::CgroupDriver> cgroups_;  // null with cgroup_driver "none"
  std::unique_ptr<security::SeccompFilterCache> seccomp_;  // <state>/seccomp/<sha256>.bpf
  cgroups::CpuRateTracker cpu_rates_;

  // Last member: destroyed first, so its thread never sees a half-destroyed Impl.
  std::unique_ptr<ExitWatcher> watcher_;
};

std::string sandbox_name_key(const SandboxConfig& config);
std::string container_name_key(const std::string& sandbox_id, const ContainerConfig& config);

}  // namespace crisp::runtime
