#include "runtime/cgroups/cgroup_driver.h"

#include "runtime/base/error.h"
#include "runtime/cgroups/systemd_driver.h"

namespace crisp::cgroups {

std::unique_ptr<CgroupDriver> make_cgroup_driver(const std::string& driver_name, const std::string& root) {
  auto fs = [&] {
    return detect_cgroup_version(root) == CgroupVersion::kV2 ? make_cgroupfs_v2_driver(root)
                                                              : make_cgroupfs_v1_driver(root);
  };
  if (driver_name == "cgroupfs" || driver_name == "auto" || driver_name.empty()) return fs();
  if (driver_name == "systemd") return make_systemd_driver(make_sd_bus_systemd_manager(), fs());
  throw Error(ErrorKind::kInvalidArgument, "unknown cgroup driver \"" + driver_name + "\" (cgroupfs or systemd)");
}

}  // namespace crisp::cgroups
