// Built instead of systemd_dbus.cc when libsystemd is missing.
#include "runtime/base/error.h"
#include "runtime/cgroups/systemd_driver.h"

namespace crisp::cgroups {

std::unique_ptr<SystemdManager> make_sd_bus_systemd_manager() {
  throw Error(ErrorKind::kUnimplemented, "crisp was built without libsystemd: the systemd cgroup driver is unavailable");
}

}  // namespace crisp::cgroups
