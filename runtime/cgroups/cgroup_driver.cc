#include "runtime/cgroups/cgroup_driver.h"

#include <filesystem>

#include "runtime/base/error.h"
#include "runtime/cgroups/systemd_driver.h"

namespace crisp::cgroups {

std::unique_ptr<CgroupDriver> make_cgroup_driver(const std::string& driver_name, const std::string& root) {
  auto fs = [&] {
    return detect_cgroup_version(root) == CgroupVersion::kV2 ? make_cgroupfs_v2_driver(root)
                                                              : make_cgroupfs_v1_driver(root);
  };
  if (driver_name == "cgroupfs" || driver_name == "auto" || driver_name.empty()) return fs();
  if (driver_name == "systemd") {
    // sd_booted(): systemd creates this directory when it is PID 1.
    if (!std::filesystem::is_directory("/run/systemd/system")) {
      throw Error(ErrorKind::kUnavailable,
                  "cgroup driver \"systemd\" needs systemd as the init system, but this host was not booted "
                  "with systemd (/run/systemd/system does not exist); use cgroup_driver \"cgroupfs\" "
                  "(--cgroup-driver cgroupfs) and the kubelet's cgroupDriver: cgroupfs");
    }
    std::unique_ptr<SystemdManager> manager;
    try {
      manager = make_sd_bus_systemd_manager();
    } catch (const Error& e) {
      throw Error(e.kind(), std::string("cgroup driver \"systemd\": ") + e.what());
    }
    return make_systemd_driver(std::move(manager), fs());
  }
  throw Error(ErrorKind::kInvalidArgument, "unknown cgroup driver \"" + driver_name + "\" (cgroupfs or systemd)");
}

}  // namespace crisp::cgroups
