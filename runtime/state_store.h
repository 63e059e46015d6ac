#pragma once
// Persistent records of sandboxes and containers: <root>/sandboxes/<id>.json and
// <root>/containers/<id>.json, each replaced atomically (temp + rename) on every change; with fsync
// when the object comes into existence (see Durability).
#include <sys/types.h>

#include <cstdint>
#include <string>
#include <vector>

#include "runtime/monitor/spec.h"
#include "runtime/types.h"

namespace crisp::runtime {

struct SandboxRecord {
  SandboxInfo info;
  uint64_t pod_init_start_time = 0;  // with info.pod_init_pid: identifies the pod-init process
};

struct ContainerRecord {
  ContainerInfo info;
  // True from the first write of the record until the bundle is complete (rootfs mounted, spec
  // written): recovery rolls such a container back.
  bool creating = false;
  std::string bundle_dir;
  monitor::ProcessSpec process;  // the container's process (ExecSync runs with its env, user, cwd)
  int stop_signal = 15;
  uint64_t start_time = 0;  // of info.pid (field 22 of /proc/<pid>/stat)
  pid_t monitor_pid = 0;
  uint64_t monitor_start_time = 0;
  std::string writable_layer;  // the rootfs overlay's upperdir (ContainerStats), "" if none
};

std::string sandbox_record_to_json(const SandboxRecord& record);
SandboxRecord sandbox_record_from_json(const std::string& text);
std::string container_record_to_json(const ContainerRecord& record);
ContainerRecord container_record_from_json(const std::string& text);

// Writes a file atomically (temp + rename) without fsync: it survives a crash of crispd, not
// necessarily one of the host. For the state dir (gone at reboot anyway) and for record updates
// that a host crash makes moot (a container's running/exited state: its processes die with the host).
void write_state_file(const std::string& path, const std::string& data, unsigned mode = 0644);

// kSync: temp + fsync + rename + fsync dir (a sandbox or container coming into existence).
// kNoSync: temp + rename (intermediate and runtime-state updates; see write_state_file).
enum class Durability { kSync, kNoSync };

class StateStore {
 public:
  explicit StateStore(std::string root_dir);

  void save(const SandboxRecord& record, Durability durability = Durability::kSync) const;
  void save(const ContainerRecord& record, Durability durability = Durability::kSync) const;
  void remove_sandbox(const std::string& id) const;    // no error if absent
  void remove_container(const std::string& id) const;  // no error if absent
  // Every readable record; unreadable ones are logged to stderr and skipped.
  std::vector<SandboxRecord> load_sandboxes() const;
  std::vector<ContainerRecord> load_containers() const;

 private:
  std::string sandbox_path(const std::string& id) const;
  std::string container_path(const std::string& id) const;
  std::string sandboxes_dir_;
  std::string containers_dir_;
};

}  // namespace crisp::runtime
