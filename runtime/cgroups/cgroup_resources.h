#pragma once
// The resources a pod or container cgroup is given (CRI LinuxContainerResources in plain form),
// their validation, and the value conversions runc uses between cgroup v1 and v2.
// Unset fields (nullopt / empty) leave the cgroup's current value alone.
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "runtime/cgroups/device_rules.h"

namespace crisp::cgroups {

struct HugepageLimit {
  std::string page_size;  // "2MB", "1GB", "64KB" (the CRI/kubelet spelling)
  uint64_t limit_bytes = 0;
};

struct CgroupResources {
  std::optional<uint64_t> cpu_shares;  // v1 cpu.shares, 2..262144 (v2: converted to cpu.weight)
  std::optional<int64_t> cpu_quota;    // microseconds per period; -1 = unlimited
  std::optional<uint64_t> cpu_period;  // microseconds, 1000..1000000
  std::string cpuset_cpus;             // "0-3,5"; empty = unchanged
  std::string cpuset_mems;
  std::optional<int64_t> memory_limit;  // bytes; -1 = unlimited
  std::optional<int64_t> memory_swap;   // memory+swap bytes (OCI semantics); -1 = unlimited swap
  std::optional<int64_t> pids_limit;    // -1 = unlimited
  std::vector<HugepageLimit> hugepage_limits;
  std::map<std::string, std::string> unified;  // v2 files ("memory.high" -> "1G"); v1: rejected
  std::vector<DeviceRule> devices;  // device cgroup rules applied in order (v1 allow/deny)

  bool empty() const;
};

// Throws crisp::Error kInvalidArgument naming the first bad field: negative values other than
// -1, shares/period/quota outside the kernel's range, cpuset lists that do not parse, a swap
// limit below the memory limit or without one, hugepage sizes not like "2MB", unified keys that
// are not "<controller>.<file>".
void validate_resources(const CgroupResources& resources);

// runc's cpu.shares -> cpu.weight mapping: [2, 262144] -> [1, 10000]; 0 stays 0 (unset).
uint64_t cpu_shares_to_weight(uint64_t shares);
// The v2 "cpu.max" line for quota/period ("max 100000", "50000 100000", "max"), or empty when
// neither is set.
std::string cpu_max_value(std::optional<int64_t> quota, std::optional<uint64_t> period);
// runc's memory.swap.max value from OCI memory (limit) and memory+swap: -1 -> "max",
// otherwise swap - memory. nullopt = leave unchanged. Throws kInvalidArgument like runc.
std::optional<std::string> memory_swap_v2_value(std::optional<int64_t> memory_limit,
                                                std::optional<int64_t> memory_swap);
// "max" for -1, the number otherwise.
std::string limit_value(int64_t value);
// Page size in bytes for "2MB", "1GB", "64KB"; throws kInvalidArgument.
uint64_t hugepage_size_bytes(const std::string& page_size);

}  // namespace crisp::cgroups
