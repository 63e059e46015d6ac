#pragma once
// Builds a container's bundle spec (runtime/monitor/spec.h) from the CRI container config, the
// image config and the pod. Pure: reads nothing but the host devices named in the config.
#include <cstdint>
#include <string>
#include <vector>

#include "runtime/image_user.h"
#include "runtime/monitor/spec.h"
#include "runtime/pod_files.h"
#include "runtime/types.h"

namespace crisp::runtime {

// What a container joins of its pod.
struct PodNamespacePaths {
  std::string net;  // empty = host
  std::string ipc;  // empty = host
  std::string uts;  // empty = host
  std::string pid;  // empty = see pid_mode
};

struct SpecInputs {
  ContainerConfig config;
  ImageConfig image;
  ResolvedUser user;
  PodNamespacePaths pod_namespaces;
  PodFilePaths pod_files;
  std::string rootfs;    // mounted rootfs
  std::string log_path;  // absolute or empty
  uint32_t log_max_line = monitor::kDefaultLogMaxLine;
  // The pod's pinned user namespace (userns mode POD), empty = the host's. With it the pod files
  // and /dev/shm are idmapped, and so are the mounts in config.mount_idmappings.
  std::string userns_path;
};

// The 14 capabilities containerd and Docker grant by default, as a mask (bit n = capability n).
uint64_t default_capability_mask();

// The argv of the container: CRI command replaces the image's Entrypoint (and drops its Cmd),
// CRI args replace Cmd. Throws kInvalidArgument when empty.
std::vector<std::string> merge_command(const ContainerConfig& config, const ImageConfig& image);

// The image's env with the CRI envs replacing or appended (NAME=value, order kept); PATH and HOME
// added when missing.
std::vector<std::string> merge_env(const std::vector<std::string>& image_env,
                                   const std::vector<std::pair<std::string, std::string>>& envs,
                                   const std::string& home);

// Default mounts + pod files + CRI mounts (a CRI mount replaces a default at the same
// destination; CRI mounts sorted parents first). Throws kInvalidArgument for a relative path.
// in_user_namespace: the pod files and /dev/shm get the "idmap" option, and so do the CRI mounts
// named in config.mount_idmappings (which without it are kInvalidArgument).
std::vector<monitor::MountSpec> build_mounts(const ContainerConfig& config, const PodFilePaths& pod_files,
                                             bool in_user_namespace = false);

// Signal number of an image StopSignal ("SIGUSR1", "USR1", "10"); SIGTERM when empty.
// Throws kInvalidArgument for an unknown name.
int parse_stop_signal(const std::string& name);

monitor::BundleSpec build_bundle_spec(const SpecInputs& inputs);

}  // namespace crisp::runtime
