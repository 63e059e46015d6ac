// Runtime: the public facade, lookups, lists, events and monitor exit handling.
#include "runtime/runtime.h"

#include <cstdio>

#include "runtime/base/error.h"
#include "runtime/base/file_util.h"
#include "runtime/monitor/protocol.h"
#include "runtime/process_util.h"
#include "runtime/runtime_impl.h"
#include "runtime/sandbox_namespaces.h"

namespace crisp::runtime {

bool labels_match(const StringMap& selector, const StringMap& labels) {
  for (const auto& [key, value] : selector) {
    auto it = labels.find(key);
    if (it == labels.end() || it->second != value) return false;
  }
  return true;
}

std::string sandbox_name_key(const SandboxConfig& c) {
  return c.name + "_" + c.namespace_name + "_" + c.uid + "_" + std::to_string(c.attempt);
}

std::string container_name_key(const std::string& sandbox_id, const ContainerConfig& c) {
  return c.name + "_" + sandbox_id + "_" + std::to_string(c.attempt);
}

Runtime::Impl::Impl(RuntimeOptions options) : options_(std::move(options)), store_(options_.root_dir) {
  if (options_.state_dir.empty() || options_.root_dir.empty()) {
    throw Error(ErrorKind::kInvalidArgument, "runtime: root and state directories are required");
  }
  make_dirs(options_.state_dir + "/sandboxes", 0711);
  make_dirs(options_.state_dir + "/containers", 0711);
  make_dirs(options_.state_dir + "/sock", 0700);
  if (options_.cgroup_driver != "none") {
    cgroups_ = cgroups::make_cgroup_driver(options_.cgroup_driver, options_.cgroup_root);
  }
  seccomp_ = std::make_unique<security::SeccompFilterCache>(options_.state_dir + "/seccomp");
  watcher_ = std::make_unique<ExitWatcher>([this](const std::string& id) { handle_monitor_exit(id); });
}

namespace {

template <typename Map>
typename Map::mapped_type find_by_id_or_prefix(const Map& map, const std::string& id) {
  if (id.empty()) return nullptr;
  if (auto it = map.find(id); it != map.end()) return it->second;
  auto it = map.lower_bound(id);
  if (it == map.end() || it->first.rfind(id, 0) != 0) return nullptr;
  auto next = std::next(it);
  if (next != map.end() && next->first.rfind(id, 0) == 0) return nullptr;  // ambiguous
  return it->second;
}

}  // namespace

std::shared_ptr<SandboxEntry> Runtime::Impl::find_sandbox(const std::string& id) const {
  std::lock_guard lock(mu_);
  return find_by_id_or_prefix(sandboxes_, id);
}

std::shared_ptr<SandboxEntry> Runtime::Impl::get_sandbox(const std::string& id) const {
  auto entry = find_sandbox(id);
  if (!entry) throw Error(ErrorKind::kNotFound, "pod sandbox " + id + " not found");
  return entry;
}

std::shared_ptr<ContainerEntry> Runtime::Impl::find_container(const std::string& id) const {
  std::lock_guard lock(mu_);
  return find_by_id_or_prefix(containers_, id);
}

std::shared_ptr<ContainerEntry> Runtime::Impl::get_container(const std::string& id) const {
  auto entry = find_container(id);
  if (!entry) throw Error(ErrorKind::kNotFound, "container " + id + " not found");
  return entry;
}

std::vector<std::shared_ptr<ContainerEntry>> Runtime::Impl::containers_of(const std::string& sandbox_id) const {
  std::vector<std::shared_ptr<ContainerEntry>> all;
  {
    std::lock_guard lock(mu_);
    for (const auto& [id, entry] : containers_) all.push_back(entry);
  }
  std::vector<std::shared_ptr<ContainerEntry>> mine;
  for (auto& entry : all) {
    std::lock_guard lock(entry->mu);
    if (entry->record.info.sandbox_id == sandbox_id) mine.push_back(entry);
  }
  return mine;
}

void Runtime::Impl::publish(EventType type, const std::string& container_id, const std::string& sandbox_id) {
  events_.publish(Event{type, container_id, sandbox_id, now_ns()});
}

void Runtime::Impl::release_rootfs(const std::string& container_id) const {
  if (!options_.release_rootfs) return;
  try {
    options_.release_rootfs(container_id);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "crisp runtime: releasing the rootfs of %s: %s\n", container_id.c_str(), e.what());
  }
}

bool Runtime::Impl::record_exit_locked(ContainerEntry& entry) {
  ContainerRecord& r = entry.record;
  if (r.info.state != ContainerState::kRunning) return false;
  auto exit = monitor::read_exit_file(r.bundle_dir + "/" + monitor::kExitFileName);
  if (!exit && process_alive(r.monitor_pid, r.monitor_start_time)) return false;  // still running
  r.info.state = ContainerState::kExited;
  r.info.pid = 0;
  if (exit) {
    r.info.exit_code = exit->exit_code;
    r.info.finished_at_ns = exit->finished_at_ns ? exit->finished_at_ns : now_ns();
    if (exit->started_at_ns) r.info.started_at_ns = exit->started_at_ns;
    r.info.reason = exit->exit_code == 0 ? "Completed" : "Error";
    r.info.message.clear();
    if (std::string oom = oom_reason(r); !oom.empty()) r.info.reason = oom;
  } else {
    r.info.exit_code = 255;
    r.info.finished_at_ns = now_ns();
    r.info.reason = "Error";
    r.info.message = "crisp-monitor exited without recording the container's exit status";
  }
  store_.save(r, Durability::kNoSync);
  return true;
}

void Runtime::Impl::handle_monitor_exit(const std::string& container_id) {
  auto entry = find_container(container_id);
  if (!entry) return;
  std::string sandbox_id;
  bool changed = false;
  {
    std::lock_guard lock(entry->mu);
    changed = record_exit_locked(*entry);
    sandbox_id = entry->record.info.sandbox_id;
  }
  if (changed) publish(EventType::kContainerStopped, container_id, sandbox_id);
}

void Runtime::Impl::watch_monitor(ContainerEntry& entry) {
  ContainerRecord& r = entry.record;
  UniqueFd pidfd = open_pidfd(r.monitor_pid);
  if (pidfd && process_alive(r.monitor_pid, r.monitor_start_time)) {
    watcher_->watch(r.info.id, std::move(pidfd));
    return;
  }
  // Already gone (or the pid was reused): the exit file tells what happened.
  record_exit_locked(entry);
}

// ---- facade ----

Runtime::Runtime(RuntimeOptions options) : impl_(std::make_unique<Impl>(std::move(options))) {}
Runtime::~Runtime() = default;

void Runtime::recover() { impl_->recover(); }

std::string Runtime::run_sandbox(const SandboxConfig& config) { return impl_->run_sandbox(config); }
void Runtime::stop_sandbox(const std::string& id) { impl_->stop_sandbox(id); }
void Runtime::remove_sandbox(const std::string& id) { impl_->remove_sandbox(id); }

SandboxInfo Runtime::sandbox_status(const std::string& id) const {
  auto entry = impl_->get_sandbox(id);
  std::lock_guard lock(entry->mu);
  return entry->record.info;
}

std::vector<SandboxInfo> Runtime::list_sandboxes(const SandboxFilter& filter) const {
  std::vector<std::shared_ptr<SandboxEntry>> entries;
  {
    std::lock_guard lock(impl_->mu_);
    for (const auto& [id, entry] : impl_->sandboxes_) {
      if (!filter.id.empty() && id.rfind(filter.id, 0) != 0) continue;
      entries.push_back(entry);
    }
  }
  std::vector<SandboxInfo> out;
  out.reserve(entries.size());
  for (const auto& entry : entries) {
    std::lock_guard lock(entry->mu);
    const SandboxInfo& info = entry->record.info;
    if (filter.state && info.state != *filter.state) continue;
    if (!labels_match(filter.label_selector, info.config.labels)) continue;
    out.push_back(info);
  }
  return out;
}

void Runtime::set_sandbox_network(const std::string& id, const std::string& ip,
                                  const std::vector<std::string>& additional_ips) {
  auto entry = impl_->get_sandbox(id);
  std::lock_guard lock(entry->mu);
  entry->record.info.ip = ip;
  entry->record.info.additional_ips = additional_ips;
  impl_->store_.save(entry->record, Durability::kNoSync);
}

std::string Runtime::create_container(const std::string& sandbox_id, const ContainerConfig& config,
                                      const ImageConfig& image, const PrepareRootfs& prepare_rootfs) {
  return impl_->create_container(sandbox_id, config, image, prepare_rootfs);
}
void Runtime::start_container(const std::string& id) { impl_->start_container(id); }
void Runtime::stop_container(const std::string& id, std::chrono::seconds timeout) {
  impl_->stop_container(id, timeout);
}
void Runtime::remove_container(const std::string& id) { impl_->remove_container(id); }

ContainerInfo Runtime::container_status(const std::string& id) const {
  auto entry = impl_->get_container(id);
  std::lock_guard lock(entry->mu);
  ContainerInfo info = entry->record.info;
  info.spec = entry->spec_text;
  info.uid = entry->record.process.uid;
  info.gid = entry->record.process.gid;
  info.supplemental_groups = entry->record.process.additional_gids;
  return info;
}

std::vector<ContainerInfo> Runtime::list_containers(const ContainerFilter& filter) const {
  std::vector<std::shared_ptr<ContainerEntry>> entries;
  {
    std::lock_guard lock(impl_->mu_);
    for (const auto& [id, entry] : impl_->containers_) {
      if (!filter.id.empty() && id.rfind(filter.id, 0) != 0) continue;
      entries.push_back(entry);
    }
  }
  std::vector<ContainerInfo> out;
  out.reserve(entries.size());
  for (const auto& entry : entries) {
    std::lock_guard lock(entry->mu);
    const ContainerInfo& info = entry->record.info;
    if (entry->record.creating) continue;
    if (filter.state && info.state != *filter.state) continue;
    if (!filter.sandbox_id.empty() && info.sandbox_id.rfind(filter.sandbox_id, 0) != 0) continue;
    if (!labels_match(filter.label_selector, info.config.labels)) continue;
    out.push_back(info);
  }
  return out;
}

ExecResult Runtime::exec_sync(const std::string& id, const std::vector<std::string>& cmd,
                              std::chrono::milliseconds timeout) {
  return impl_->exec_sync(id, cmd, timeout);
}

void Runtime::reopen_container_log(const std::string& id) { impl_->reopen_container_log(id); }

ExecCommand Runtime::prepare_exec(const std::string& id, const std::vector<std::string>& cmd, bool tty) {
  return impl_->prepare_exec(id, cmd, tty);
}

std::string Runtime::control_socket_path(const std::string& id) const {
  auto entry = impl_->get_container(id);
  std::lock_guard lock(entry->mu);
  if (entry->record.info.state != ContainerState::kRunning) {
    throw Error(ErrorKind::kFailedPrecondition, "container " + entry->record.info.id + " is not running");
  }
  return impl_->control_socket(entry->record.info.id);
}

EventBus& Runtime::events() { return impl_->events_; }

}  // namespace crisp::runtime
