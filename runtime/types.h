#pragma once
// Plain structs of the container engine: what the CRI front (cri/) fills from the CRI messages and
// what it gets back. No gRPC/protobuf types here; times are unix nanoseconds.
#include <sys/types.h>

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "runtime/cgroups/cgroup_driver.h"
#include "runtime/cgroups/cgroup_resources.h"
#include "runtime/security/container_security.h"

namespace crisp::runtime {

using StringMap = std::map<std::string, std::string>;

// CRI NamespaceMode: POD = the pod's namespace, CONTAINER = the container's own, NODE = the host's,
// TARGET = another container's (pid only).
enum class NamespaceMode { kPod, kContainer, kNode, kTarget };

// CRI IDMapping: container ids [container_id, container_id + length) are host ids
// [host_id, host_id + length).
struct IdMapping {
  uint32_t container_id = 0;
  uint32_t host_id = 0;
  uint32_t length = 0;
  bool operator==(const IdMapping&) const = default;
};

// CRI UserNamespace. kNode: the host's user namespace (no mappings). kPod: the pod gets a user
// namespace of its own with exactly these mappings (sandbox_namespaces.h validates them).
struct UserNamespaceConfig {
  NamespaceMode mode = NamespaceMode::kNode;
  std::vector<IdMapping> uids;
  std::vector<IdMapping> gids;
  bool operator==(const UserNamespaceConfig&) const = default;
};

struct DnsConfig {
  std::vector<std::string> servers;
  std::vector<std::string> searches;
  std::vector<std::string> options;
};

struct SandboxConfig {
  // metadata
  std::string name;
  std::string uid;
  std::string namespace_name;
  uint32_t attempt = 0;

  std::string hostname;
  std::string log_directory;  // containers' log_path is relative to it
  std::string runtime_handler;
  DnsConfig dns;
  StringMap labels;
  StringMap annotations;
  NamespaceMode network = NamespaceMode::kPod;  // kPod or kNode
  NamespaceMode pid = NamespaceMode::kContainer;  // kPod, kContainer or kNode
  NamespaceMode ipc = NamespaceMode::kPod;  // kPod or kNode
  StringMap sysctls;  // namespaced sysctls only (net.*, kernel.shm*, kernel.msg*, kernel.sem, fs.mqueue.*)
  std::string cgroup_parent;  // the kubelet's pod cgroup (driver syntax); empty = crisp's own
  bool privileged = false;    // allows privileged containers
  cgroups::CgroupResources resources;  // LinuxPodSandboxConfig.resources, applied to a pod cgroup crisp owns
  // namespace_options.userns_options. kPod needs network, ipc and pid namespaces of the pod's own.
  UserNamespaceConfig userns;
};

enum class SandboxState { kReady, kNotReady };

struct SandboxInfo {
  std::string id;
  SandboxConfig config;
  SandboxState state = SandboxState::kNotReady;
  int64_t created_at_ns = 0;
  std::string netns_path;  // pinned network namespace; empty with network NODE
  std::string ip;          // set by the network layer (set_sandbox_network)
  std::vector<std::string> additional_ips;
  pid_t pod_init_pid = 0;  // pid 1 of the pod's pid namespace (pid POD), 0 otherwise
  std::string cgroup_path;  // the pod's cgroup (driver path); empty when cgroups are off
};

// A CRI label selector: every pair must match exactly. Optional id/state narrow further.
struct SandboxFilter {
  std::string id;  // exact id or unique prefix
  std::optional<SandboxState> state;
  StringMap label_selector;
};

// CRI MountPropagation.
enum class MountPropagation { kPrivate, kHostToContainer, kBidirectional };

struct Mount {
  std::string container_path;
  std::string host_path;
  bool readonly = false;
  MountPropagation propagation = MountPropagation::kPrivate;
  bool recursive_readonly = false;  // submounts read-only too (mount_setattr AT_RECURSIVE)
};

// CRI Mount.uidMappings/gidMappings of the mount at container_path: it is mounted idmapped with
// the pod's user namespace (only mappings equal to the pod's are supported).
struct MountIdMappings {
  std::string container_path;
  std::vector<IdMapping> uids;
  std::vector<IdMapping> gids;
};

struct Device {
  std::string container_path;
  std::string host_path;
  std::string permissions = "rwm";
};

// The part of an image's config a container is built from (OCI image config).
struct ImageConfig {
  std::string user;
  std::vector<std::string> env;
  std::vector<std::string> entrypoint;
  std::vector<std::string> cmd;
  std::string working_dir;
  std::string stop_signal;  // "SIGUSR1", "10", or empty
};

// How to mount a container's rootfs (usually an overlay prepared by the image service).
struct RootfsMount {
  std::string type;     // "overlay", "bind", ...
  std::string source;   // "overlay" or a host directory for "bind"
  std::vector<std::string> options;  // "lowerdir=...", "upperdir=...", "ro", ...
};

struct ContainerConfig {
  // metadata
  std::string name;
  uint32_t attempt = 0;

  std::string image;      // the image as the kubelet asked for it
  std::string image_id;   // resolved image id
  std::string image_ref;  // digest reference reported as image_ref

  std::vector<std::string> command;  // replaces the image's Entrypoint
  std::vector<std::string> args;     // replaces the image's Cmd
  std::string working_dir;
  std::vector<std::pair<std::string, std::string>> envs;
  std::vector<Mount> mounts;
  std::vector<Device> devices;
  StringMap labels;
  StringMap annotations;
  std::string log_path;  // relative to the sandbox's log_directory; empty = no log
  bool stdin = false;
  bool stdin_once = false;
  bool tty = false;

  // security context
  std::optional<int64_t> run_as_user;
  std::string run_as_username;
  std::optional<int64_t> run_as_group;
  std::vector<int64_t> supplemental_groups;
  bool readonly_rootfs = false;
  bool privileged = false;  // only in a privileged sandbox
  // Capabilities, no_new_privs, seccomp, masked/readonly paths (its `privileged` is ignored: the
  // field above is the one).
  security::ContainerSecurityConfig security;
  cgroups::CgroupResources resources;  // LinuxContainerResources
  std::optional<int> oom_score_adj;
  NamespaceMode pid_namespace = NamespaceMode::kContainer;  // from the container's security context
  std::string pid_target_id;  // pid TARGET: the container whose pid namespace to join
  // namespace_options.userns_options; nullopt = not given (the pod's). When given it must be the
  // pod's: mode and mappings equal to the sandbox's (else kInvalidArgument).
  std::optional<UserNamespaceConfig> userns;
  std::vector<MountIdMappings> mount_idmappings;  // mounts that asked for idmapping
};

enum class ContainerState { kCreated, kRunning, kExited, kUnknown };

struct ContainerInfo {
  std::string id;
  std::string sandbox_id;
  ContainerConfig config;
  ContainerState state = ContainerState::kCreated;
  int64_t created_at_ns = 0;
  int64_t started_at_ns = 0;
  int64_t finished_at_ns = 0;
  int exit_code = 0;
  std::string reason;   // Completed, Error (OOMKilled with issue 5)
  std::string message;
  std::string log_path;  // absolute; empty = none
  pid_t pid = 0;         // container process (host pid namespace), 0 when not running
  // The resolved user of the container's process (ContainerStatus.user); filled by container_status.
  uint32_t uid = 0;
  uint32_t gid = 0;
  std::vector<uint32_t> supplemental_groups;
  std::string spec;      // the bundle spec text (for verbose status)
  std::string cgroup_path;  // the container's cgroup (driver path); empty when cgroups are off
};

struct ContainerFilter {
  std::string id;  // exact id or unique prefix
  std::optional<ContainerState> state;
  std::string sandbox_id;  // exact id or unique prefix
  StringMap label_selector;
};

struct ExecResult {
  std::string stdout_data;
  std::string stderr_data;
  int exit_code = 0;
  bool timed_out = false;
};

// How to run a command in a running container (interactive Exec of the CRI streaming server):
// spawn argv with the wanted stdio, then remove spec_path once the process has exited.
struct ExecCommand {
  std::vector<std::string> argv;  // <monitor> exec --pid <pid> [--tty] --spec <spec_path> -- cmd...
  std::string spec_path;          // the container's process spec (env, user, cwd, capabilities)
};

enum class EventType { kContainerCreated, kContainerStarted, kContainerStopped, kContainerDeleted };

// One lifecycle event. For sandboxes container_id == sandbox_id (as containerd reports them).
struct Event {
  EventType type = EventType::kContainerCreated;
  std::string container_id;
  std::string sandbox_id;
  int64_t created_at_ns = 0;
};

// Counters of one network interface (as /proc/net/dev has them).
struct NetworkInterfaceStats {
  std::string name;
  uint64_t rx_bytes = 0;
  uint64_t rx_packets = 0;
  uint64_t rx_errors = 0;
  uint64_t rx_dropped = 0;
  uint64_t tx_bytes = 0;
  uint64_t tx_packets = 0;
  uint64_t tx_errors = 0;
  uint64_t tx_dropped = 0;
};

// Resource usage of a container or pod at one moment.
struct ResourceStats {
  int64_t timestamp_ns = 0;
  cgroups::CgroupStats cgroup;
  std::optional<uint64_t> cpu_nano_cores;  // since the previous stats call of the same object
  std::string writable_layer_path;         // containers: the overlay upper dir ("" if unknown)
  uint64_t writable_layer_bytes = 0;
  uint64_t writable_layer_inodes = 0;
  // The filesystem holding the writable layer (statvfs; 0 when unknown).
  uint64_t writable_layer_fs_capacity_bytes = 0;
  uint64_t writable_layer_fs_inodes_total = 0;
  uint64_t writable_layer_fs_inodes_free = 0;
  // Pods with a network namespace of their own: its interfaces but lo (runtime/network_stats.h).
  std::vector<NetworkInterfaceStats> network;
};

struct ContainerStats {
  ContainerInfo info;
  ResourceStats stats;
};

struct SandboxStats {
  SandboxInfo info;
  ResourceStats stats;  // of the pod's cgroup
  std::vector<ContainerStats> containers;
};

// True when every key of selector is in labels with the same value.
bool labels_match(const StringMap& selector, const StringMap& labels);

}  // namespace crisp::runtime
