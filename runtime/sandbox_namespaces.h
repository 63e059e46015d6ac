#pragma once
// A pod's namespaces without an infra container: net, ipc and uts namespaces made by unshare() in a
// short-lived thread and pinned by bind-mounting their nsfs files; a pid namespace held by
// `crisp-monitor pod-init` as its pid 1.
#include <sys/types.h>

#include <cstdint>
#include <string>

#include "runtime/types.h"

namespace crisp::runtime {

struct PodNamespaceRequest {
  std::string ns_dir;  // pins go to <ns_dir>/net, <ns_dir>/ipc, <ns_dir>/uts
  bool net = false;
  bool ipc = false;
  bool uts = false;
  std::string hostname;  // set in the new uts namespace
  StringMap sysctls;     // applied inside the new namespaces
};

// Creates and pins the requested namespaces (with lo up in a new netns). On failure nothing is left
// pinned. Throws kInvalidArgument for a sysctl that is not namespaced or whose namespace is not new.
void create_pod_namespaces(const PodNamespaceRequest& request);

// Unmounts and removes a pin file; no error if it does not exist.
void unpin_namespace(const std::string& path);

// Checks that a sysctl name may be set for the pod (namespaced, and its namespace is the pod's own).
void validate_pod_sysctl(const std::string& name, bool own_net, bool own_ipc, bool own_uts);

struct PodInit {
  pid_t pid = 0;
  uint64_t start_time = 0;
};

// Starts `<monitor_path> pod-init` as pid 1 of a new pid namespace, detached from crispd (its
// parent is init). Throws if it could not be executed.
PodInit start_pod_init(const std::string& monitor_path, const std::string& sandbox_dir);

// Kills the pod-init (and so every process of its pid namespace) if it is still the same process,
// and waits for it to be gone.
void stop_pod_init(const PodInit& init);

bool process_alive(pid_t pid, uint64_t start_time);

}  // namespace crisp::runtime
