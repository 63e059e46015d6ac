// Recovery at start: reload records, re-adopt live monitors, collect exits that happened while
// crispd was down, roll back half-done creations.
#include <dirent.h>
#include <unistd.h>

#include <vector>

#include <cstdio>

#include "runtime/base/error.h"
#include "runtime/base/file_util.h"
#include "runtime/monitor/protocol.h"
#include "runtime/process_util.h"
#include "runtime/runtime_impl.h"
#include "runtime/sandbox_namespaces.h"

namespace crisp::runtime {

void Runtime::Impl::recover() {
  for (auto& record : store_.load_sandboxes()) {
    auto entry = std::make_shared<SandboxEntry>();
    SandboxInfo& info = record.info;
    if (info.state == SandboxState::kReady) {
      bool intact = info.netns_path.empty() || ::access(info.netns_path.c_str(), F_OK) == 0;
      if (info.config.pid == NamespaceMode::kPod && !process_alive(info.pod_init_pid, record.pod_init_start_time)) {
        intact = false;
      }
      if (!intact) {
        info.state = SandboxState::kNotReady;
        store_.save(record);
      }
    }
    entry->name_key = sandbox_name_key(info.config);
    entry->record = std::move(record);
    std::lock_guard lock(mu_);
    sandbox_names_.insert(entry->name_key);
    sandboxes_[entry->record.info.id] = entry;
  }

  for (auto& record : store_.load_containers()) {
    const std::string id = record.info.id;
    if (record.creating) {
      // Crashed in the middle of CreateContainer: undo what exists.
      try {
        teardown_container_resources(record);
        store_.remove_container(id);
        release_rootfs(id);
      } catch (const std::exception& e) {
        std::fprintf(stderr, "crisp runtime: rolling back container %s: %s\n", id.c_str(), e.what());
      }
      continue;
    }
    auto entry = std::make_shared<ContainerEntry>();
    entry->name_key = container_name_key(record.info.sandbox_id, record.info.config);
    entry->spec_text = read_file_if_exists(record.bundle_dir + "/" + monitor::kSpecFileName).value_or("");
    entry->record = std::move(record);
    ContainerRecord& r = entry->record;
    if (r.info.state == ContainerState::kCreated) {
      // Crashed between the monitor's report and the record update: the pid file says it started.
      try {
        if (auto pid = monitor::read_pid_file(r.bundle_dir + "/" + monitor::kPidFileName)) {
          r.info.pid = pid->pid;
          r.start_time = pid->start_time;
          r.monitor_pid = pid->monitor_pid;
          r.monitor_start_time = pid->monitor_start_time;
          r.info.state = ContainerState::kRunning;
          r.info.started_at_ns = now_ns();
          store_.save(r);
        }
      } catch (const std::exception& e) {
        std::fprintf(stderr, "crisp runtime: container %s: %s\n", id.c_str(), e.what());
      }
    }
    {
      std::lock_guard lock(mu_);
      container_names_.insert(entry->name_key);
      containers_[id] = entry;
    }
    std::lock_guard lock(entry->mu);
    if (r.info.state == ContainerState::kRunning) {
      try {
        watch_monitor(*entry);
      } catch (const std::exception& e) {
        std::fprintf(stderr, "crisp runtime: re-adopting container %s: %s\n", id.c_str(), e.what());
      }
    }
  }
  remove_unrecorded_directories();
}

// A crash between creating a sandbox's or container's directory and writing its record leaves a
// directory nobody knows: unmount what it holds and remove it.
void Runtime::Impl::remove_unrecorded_directories() {
  for (const char* kind : {"sandboxes", "containers"}) {
    std::string parent = options_.state_dir + "/" + kind;
    DIR* dir = ::opendir(parent.c_str());
    if (!dir) continue;
    std::vector<std::string> names;
    while (auto* e = ::readdir(dir)) {
      std::string name = e->d_name;
      if (name != "." && name != "..") names.push_back(name);
    }
    ::closedir(dir);
    for (const auto& id : names) {
      bool known;
      {
        std::lock_guard lock(mu_);
        known = kind[0] == 's' ? sandboxes_.count(id) > 0 : containers_.count(id) > 0;
      }
      if (known) continue;
      try {
        if (kind[0] == 's') {
          SandboxRecord orphan;
          orphan.info.id = id;
          teardown_sandbox_resources(orphan);
        } else {
          ContainerRecord orphan;
          orphan.info.id = id;
          orphan.bundle_dir = parent + "/" + id;
          teardown_container_resources(orphan);
        }
      } catch (const std::exception& e) {
        std::fprintf(stderr, "crisp runtime: removing leftover %s/%s: %s\n", kind, id.c_str(), e.what());
      }
    }
  }
}

}  // namespace crisp::runtime
