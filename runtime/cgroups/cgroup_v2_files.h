#pragma once
// The cgroup v2 control files, shared by the cgroupfs v2 driver and the systemd driver on v2.
#include <sys/types.h>

#include <string>
#include <vector>

#include "runtime/cgroups/cgroup_driver.h"
#include "runtime/cgroups/cgroup_resources.h"

namespace crisp::cgroups {

// Checks what v2 cannot express (nothing today: device rules become an eBPF program).
void check_v2_supported(const CgroupResources& resources);
// Enables cpu, cpuset, memory, pids, hugetlb and io (those listed in <dir>/cgroup.controllers)
// for dir's children through <dir>/cgroup.subtree_control.
void enable_v2_controllers(const std::string& dir);
// Writes cpu.weight, cpu.max, cpuset.*, memory.max, memory.swap.max, pids.max,
// hugetlb.<size>.max and the unified map into dir (values converted as runc does); device
// rules become an eBPF program attached to dir.
void apply_v2_resources(const std::string& dir, const CgroupResources& resources);
CgroupStats read_v2_stats(const std::string& dir);
uint64_t read_v2_oom_kills(const std::string& dir);
std::vector<pid_t> read_v2_pids(const std::string& dir);

}  // namespace crisp::cgroups
