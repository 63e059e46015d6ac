#pragma once
// Translation of the CRI's resource, security-context and stats messages to and from the
// cgroups and security libraries' plain structs (runtime/cgroups, runtime/security).
#include <cstdint>
#include <optional>
#include <vector>

#include "cri/proto/cri_api.h"
#include "runtime/cgroups/cgroup_driver.h"
#include "runtime/cgroups/cgroup_resources.h"
#include "runtime/security/container_security.h"
#include "runtime/types.h"

namespace crisp::cri {

// LinuxContainerResources -> CgroupResources. The CRI's 0 means "not set"; negative values other
// than the -1 "unlimited" are passed on so validation names them (kInvalidArgument).
cgroups::CgroupResources cgroup_resources_from_cri(const ::runtime::v1::LinuxContainerResources& r);
// CgroupResources -> LinuxContainerResources (ContainerStatus.resources).
void fill_cri_resources(const cgroups::CgroupResources& r, std::optional<int> oom_score_adj,
                        ::runtime::v1::LinuxContainerResources* out);
// oom_score_adj when the CRI message sets one (0 is "unset" in proto3 and kept as unset).
std::optional<int> oom_score_adj_from_cri(const ::runtime::v1::LinuxContainerResources& r);

// LinuxContainerSecurityContext -> ContainerSecurityConfig (SecurityProfile fields win over the
// deprecated seccomp_profile_path / apparmor_profile strings).
security::ContainerSecurityConfig security_config_from_cri(const ::runtime::v1::LinuxContainerSecurityContext& sc);

// CgroupStats -> CRI CpuUsage / MemoryUsage at timestamp_ns; nano_cores from the caller's rate.
void fill_cpu_usage(const cgroups::CgroupStats& stats, int64_t timestamp_ns, std::optional<uint64_t> nano_cores,
                    ::runtime::v1::CpuUsage* out);
void fill_memory_usage(const cgroups::CgroupStats& stats, int64_t timestamp_ns, ::runtime::v1::MemoryUsage* out);
// A pod's interfaces -> CRI NetworkUsage: all of them in interfaces, eth0 (else the first) as the
// default interface (the one the kubelet reports as the pod's network).
void fill_network_usage(const std::vector<runtime::NetworkInterfaceStats>& interfaces, int64_t timestamp_ns,
                        ::runtime::v1::NetworkUsage* out);

}  // namespace crisp::cri
