// Pod sandboxes: run (namespaces, pod files, pod-init), stop, remove.
#include <unistd.h>

#include <cinttypes>
#include <climits>
#include <cstdio>

#include "runtime/base/cleanup.h"
#include "runtime/base/error.h"
#include "runtime/base/file_util.h"
#include "runtime/pod_files.h"
#include "runtime/process_util.h"
#include "runtime/runtime_impl.h"
#include "runtime/sandbox_namespaces.h"
#include "runtime/state_store.h"

namespace crisp::runtime {

namespace {

std::string host_hostname() {
  char buf[HOST_NAME_MAX + 1] = {};
  if (::gethostname(buf, sizeof(buf) - 1) != 0) return "localhost";
  return buf;
}

}  // namespace

std::string Runtime::Impl::run_sandbox(const SandboxConfig& config) {
  if (config.name.empty()) throw Error(ErrorKind::kInvalidArgument, "pod sandbox metadata.name is required");
  if (config.pid == NamespaceMode::kTarget) {
    throw Error(ErrorKind::kInvalidArgument, "pid namespace mode TARGET is not valid for a pod sandbox");
  }
  validate_user_namespace(config.userns);
  const bool own_userns = config.userns.mode == NamespaceMode::kPod;
  if (own_userns && (config.network == NamespaceMode::kNode || config.ipc == NamespaceMode::kNode ||
                     config.pid == NamespaceMode::kNode)) {
    // As the kubelet (hostUsers: false excludes hostNetwork/hostIPC/hostPID): the host's namespaces
    // are not owned by the pod's user namespace, so its root could not use them.
    throw Error(ErrorKind::kInvalidArgument,
                "a pod with a user namespace of its own (userns mode POD) cannot use the host's network, "
                "ipc or pid namespace");
  }
  std::string id = random_hex(32);
  std::string name_key = sandbox_name_key(config);
  {
    std::lock_guard lock(mu_);
    if (!sandbox_names_.insert(name_key).second) {
      throw Error(ErrorKind::kAlreadyExists, "a pod sandbox named " + name_key + " already exists");
    }
  }
  Cleanup release_name([&] {
    std::lock_guard lock(mu_);
    sandbox_names_.erase(name_key);
  });

  SandboxRecord record;
  record.info.id = id;
  record.info.config = config;
  record.info.created_at_ns = now_ns();
  std::string dir = sandbox_dir(id);
  bool own_net = config.network != NamespaceMode::kNode;
  bool own_ipc = config.ipc != NamespaceMode::kNode;
  bool own_uts = own_net;  // a pod on the host network keeps the host's hostname (as containerd)
  if (own_net) record.info.netns_path = dir + "/ns/net";

  make_dirs(dir, 0711);
  Cleanup undo([&] { teardown_sandbox_resources(record); });
  record.info.cgroup_path = create_sandbox_cgroup(record.info);

  PodNamespaceRequest ns;
  ns.ns_dir = dir + "/ns";
  ns.net = own_net;
  ns.ipc = own_ipc;
  ns.uts = own_uts;
  // Like containerd: a pod that names no hostname gets the node's.
  ns.hostname = config.hostname.empty() ? host_hostname() : config.hostname;
  ns.sysctls = config.sysctls;
  ns.userns = own_userns ? &config.userns : nullptr;
  create_pod_namespaces(ns);
  if (own_userns) save_pod_user_namespace(dir, config.userns);
  write_pod_files(dir, own_uts ? ns.hostname : host_hostname(), config.dns);
  if (own_ipc) mount_pod_shm(dir);
  if (config.pid == NamespaceMode::kPod) {
    PodInit init = start_pod_init(options_.monitor_path, dir, own_userns ? dir + "/ns/user" : "");
    record.info.pod_init_pid = init.pid;
    record.pod_init_start_time = init.start_time;
    // Until the record exists, this file is how recovery finds (and kills) a pod-init of a
    // half-made sandbox.
    write_state_file(dir + "/pod-init", std::to_string(init.pid) + " " + std::to_string(init.start_time) + "\n", 0600);
  }
  record.info.state = SandboxState::kReady;
  store_.save(record);

  auto entry = std::make_shared<SandboxEntry>();
  entry->record = record;
  entry->name_key = name_key;
  {
    std::lock_guard lock(mu_);
    sandboxes_[id] = entry;
  }
  undo.dismiss();
  release_name.dismiss();
  publish(EventType::kContainerCreated, id, id);
  publish(EventType::kContainerStarted, id, id);
  return id;
}

void Runtime::Impl::teardown_sandbox_resources(const SandboxRecord& record) {
  std::string dir = sandbox_dir(record.info.id);
  stop_pod_init(PodInit{record.info.pod_init_pid, record.pod_init_start_time});
  if (auto text = read_file_if_exists(dir + "/pod-init")) {
    PodInit leftover;
    if (std::sscanf(text->c_str(), "%d %" SCNu64, &leftover.pid, &leftover.start_time) == 2) {
      stop_pod_init(leftover);
    }
  }
  for (const char* kind : {"net", "ipc", "uts", "user"}) unpin_namespace(dir + "/ns/" + kind);
  unmount_pod_shm(dir);
  if (::access(dir.c_str(), F_OK) == 0) remove_tree(dir);
  remove_sandbox_cgroup(record.info);
}

void Runtime::Impl::stop_sandbox(const std::string& id) {
  auto entry = get_sandbox(id);
  std::string sandbox_id = entry->record.info.id;  // id never changes; safe without the lock
  for (auto& container : containers_of(sandbox_id)) {
    std::string cid;
    {
      std::lock_guard lock(container->mu);
      cid = container->record.info.id;
    }
    stop_container(cid, std::chrono::seconds(0));
  }
  bool changed = false;
  {
    std::lock_guard lock(entry->mu);
    SandboxRecord& r = entry->record;
    stop_pod_init(PodInit{r.info.pod_init_pid, r.pod_init_start_time});
    // No container of a stopped pod may run again: drop the network namespace now, which also
    // makes the kernel remove the pod's veth (cheaper than deleting it on the request path).
    if (!r.info.netns_path.empty()) unpin_namespace(r.info.netns_path);
    if (r.info.state != SandboxState::kNotReady) {
      r.info.state = SandboxState::kNotReady;
      store_.save(r, Durability::kNoSync);
      changed = true;
    }
  }
  if (changed) publish(EventType::kContainerStopped, sandbox_id, sandbox_id);
}

void Runtime::Impl::remove_sandbox(const std::string& id) {
  auto entry = find_sandbox(id);
  if (!entry) return;
  std::string sandbox_id = entry->record.info.id;
  for (auto& container : containers_of(sandbox_id)) {
    std::string cid;
    {
      std::lock_guard lock(container->mu);
      cid = container->record.info.id;
    }
    remove_container(cid);
  }
  {
    std::lock_guard lock(entry->mu);
    teardown_sandbox_resources(entry->record);
    store_.remove_sandbox(sandbox_id);
  }
  {
    std::lock_guard lock(mu_);
    sandboxes_.erase(sandbox_id);
    sandbox_names_.erase(entry->name_key);
  }
  publish(EventType::kContainerDeleted, sandbox_id, sandbox_id);
}

bool Runtime::user_namespaces_supported() const { return runtime::user_namespaces_supported(); }

}  // namespace crisp::runtime
