#pragma once
// Files a pod's containers share, under the sandbox's state directory: hostname, hosts,
// resolv.conf (bind-mounted over /etc/...) and shm/ (a 64 MiB tmpfs mounted at /dev/shm).
#include <string>

#include "runtime/types.h"

namespace crisp::runtime {

struct PodFilePaths {
  std::string hostname;
  std::string hosts;
  std::string resolv_conf;
  std::string shm;  // the pod's tmpfs, or the host's /dev/shm for ipc NODE
};

PodFilePaths pod_file_paths(const std::string& sandbox_dir, bool own_ipc);

// Writes hostname, hosts and resolv.conf (from dns, else a copy of the host's /etc/resolv.conf).
// hostname: the pod's, or the host's when the pod shares the host's uts namespace.
void write_pod_files(const std::string& sandbox_dir, const std::string& hostname, const DnsConfig& dns);

// resolv.conf text for a CRI DNSConfig.
std::string resolv_conf_text(const DnsConfig& dns);

void mount_pod_shm(const std::string& sandbox_dir);
void unmount_pod_shm(const std::string& sandbox_dir);  // idempotent

}  // namespace crisp::runtime
