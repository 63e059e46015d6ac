#include "runtime/security/hardening.h"

#include "runtime/base/error.h"

namespace crisp::security {

HardeningPaths default_hardening_paths() {
  return {
      {"/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys", "/proc/latency_stats", "/proc/timer_list",
       "/proc/timer_stats", "/proc/sched_debug", "/proc/scsi", "/sys/firmware", "/sys/devices/virtual/powercap"},
      {"/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"},
  };
}

HardeningPaths hardening_paths(bool privileged, const std::vector<std::string>& cri_masked,
                               const std::vector<std::string>& cri_readonly) {
  if (privileged) return {};
  for (const auto* list : {&cri_masked, &cri_readonly}) {
    for (const auto& p : *list) {
      if (p.empty() || p[0] != '/') {
        throw Error(ErrorKind::kInvalidArgument, "masked/readonly path \"" + p + "\" is not absolute");
      }
    }
  }
  HardeningPaths defaults = default_hardening_paths();
  return {cri_masked.empty() ? defaults.masked : cri_masked,
          cri_readonly.empty() ? defaults.readonly : cri_readonly};
}

}  // namespace crisp::security
