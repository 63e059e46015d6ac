#pragma once
// A pod's namespaces without an infra container: net, ipc and uts namespaces made by unshare() in a
// short-lived thread and pinned by bind-mounting their nsfs files; a pid namespace held by
// `crisp-monitor pod-init` as its pid 1. With a user namespace of the pod's own (CRI userns mode
// POD) a short-lived child process makes it, crispd writes its uid/gid maps, and the child then
// makes the net/ipc/uts namespaces inside it (owned by it, so root in the pod may configure them);
// the pod-init's pid namespace is made inside it too.
#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "runtime/types.h"

namespace crisp::runtime {

struct PodNamespaceRequest {
  std::string ns_dir;  // pins go to <ns_dir>/net, <ns_dir>/ipc, <ns_dir>/uts
  bool net = false;
  bool ipc = false;
  bool uts = false;
  std::string hostname;  // set in the new uts namespace
  StringMap sysctls;     // applied inside the new namespaces
  // Mode kPod: also <ns_dir>/user with these (validated) maps, owning the other namespaces.
  const UserNamespaceConfig* userns = nullptr;
};

// Creates and pins the requested namespaces (with lo up in a new netns). On failure nothing is left
// pinned. Throws kInvalidArgument for a sysctl that is not namespaced or whose namespace is not new.
void create_pod_namespaces(const PodNamespaceRequest& request);

// Unmounts and removes a pin file; no error if it does not exist.
void unpin_namespace(const std::string& path);

// Checks a user namespace request: kNode (any mappings are ignored), or kPod with 1..340 uid and
// gid mappings, each of length > 0, whose ranges neither overflow 32-bit ids nor overlap, and
// that map container id 0. Throws kInvalidArgument naming the problem.
void validate_user_namespace(const UserNamespaceConfig& userns);
// The host id a container id maps to; nullopt when unmapped.
std::optional<uint32_t> host_id_of(const std::vector<IdMapping>& mappings, uint32_t container_id);
// "<container_id> <host_id> <length>\n" per mapping, the format of /proc/<pid>/uid_map.
std::string id_map_text(const std::vector<IdMapping>& mappings);
// The pod's mappings, kept in <sandbox_dir>/userns so that containers created after a restart of
// crispd are checked against them. load: nullopt when the pod has no user namespace of its own.
void save_pod_user_namespace(const std::string& sandbox_dir, const UserNamespaceConfig& userns);
std::optional<UserNamespaceConfig> load_pod_user_namespace(const std::string& sandbox_dir);
// Probed once per process: can this kernel create a user namespace and idmap a tmpfs mount with it?
bool user_namespaces_supported();

// Checks that a sysctl name may be set for the pod (namespaced, and its namespace is the pod's own).
void validate_pod_sysctl(const std::string& name, bool own_net, bool own_ipc, bool own_uts);

struct PodInit {
  pid_t pid = 0;
  uint64_t start_time = 0;
};

// Starts `<monitor_path> pod-init` as pid 1 of a new pid namespace, detached from crispd (its
// parent is init). With userns_path (a pinned user namespace) the pid namespace is made inside it
// and the pod-init runs as its root. Throws if it could not be executed.
PodInit start_pod_init(const std::string& monitor_path, const std::string& sandbox_dir,
                       const std::string& userns_path = "");

// Kills the pod-init (and so every process of its pid namespace) if it is still the same process,
// and waits for it to be gone.
void stop_pod_init(const PodInit& init);

bool process_alive(pid_t pid, uint64_t start_time);

}  // namespace crisp::runtime
