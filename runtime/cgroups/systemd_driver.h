#pragma once
// The systemd cgroup driver (the kubelet's `cgroupDriver: systemd`): pods are slices named like
// "kubepods-burstable-pod<uid>.slice", containers are transient scopes "crisp-<id>.scope" in
// their pod's slice. Units are started and stopped over D-Bus (org.freedesktop.systemd1.Manager);
// resources are set both as unit properties (so systemd keeps them) and in the cgroup files
// (exact values, as runc does), through a cgroupfs driver of the host's version.
#include <cstdint>
#include <memory>
#include <string>
#include <variant>
#include <vector>

#include "runtime/cgroups/cgroup_driver.h"

namespace crisp::cgroups {

// One unit property as sent to StartTransientUnit/SetUnitProperties. D-Bus signatures:
// bool "b", uint64_t "t", std::string "s", PidList "au", ByteArray "ay".
using PidList = std::vector<uint32_t>;
using ByteArray = std::vector<uint8_t>;
using UnitPropertyValue = std::variant<bool, uint64_t, std::string, PidList, ByteArray>;
struct UnitProperty {
  std::string name;
  UnitPropertyValue value;
  bool operator==(const UnitProperty&) const = default;
};

// The systemd manager methods crisp uses. Implementations block until the unit's job finished.
class SystemdManager {
 public:
  virtual ~SystemdManager() = default;
  // StartTransientUnit(name, "replace", properties, []). An existing unit -> kAlreadyExists.
  virtual void start_transient_unit(const std::string& unit, const std::vector<UnitProperty>& properties) = 0;
  // SetUnitProperties(name, runtime=true, properties).
  virtual void set_unit_properties(const std::string& unit, const std::vector<UnitProperty>& properties) = 0;
  // StopUnit(name, "replace"); a unit that does not exist is not an error.
  virtual void stop_unit(const std::string& unit) = 0;
};

// The system bus through libsystemd's sd-bus (kUnavailable when there is no systemd or bus).
// Only available when crisp was built with libsystemd; otherwise throws kUnimplemented.
std::unique_ptr<SystemdManager> make_sd_bus_systemd_manager();

// Expands a slice name the way systemd does: "kubepods-burstable-pod1.slice" ->
// "/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod1.slice"; "-.slice" -> "/".
// Throws kInvalidArgument for a name that is not a valid slice.
std::string expand_slice(const std::string& slice);

// The unit properties for resources (CPUShares/CPUWeight, CPUQuotaPerSecUSec,
// CPUQuotaPeriodUSec, MemoryLimit/MemoryMax, TasksMax, AllowedCPUs/AllowedMemoryNodes).
std::vector<UnitProperty> resource_properties(const CgroupResources& resources, CgroupVersion version);
// "0-2,5" -> the little-endian bitmask systemd's AllowedCPUs takes.
ByteArray cpu_list_to_mask(const std::string& list);

// The driver. fs is the cgroupfs driver of the same root and version used for files and stats.
std::unique_ptr<CgroupDriver> make_systemd_driver(std::unique_ptr<SystemdManager> manager,
                                                  std::unique_ptr<CgroupDriver> fs);

}  // namespace crisp::cgroups
