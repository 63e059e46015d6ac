#pragma once
// Masked and read-only paths of a container (containerd's defaults when the CRI config gives
// none; none for privileged containers).
#include <string>
#include <vector>

namespace crisp::security {

struct HardeningPaths {
  std::vector<std::string> masked;    // /dev/null or an empty read-only tmpfs over them
  std::vector<std::string> readonly;  // bind-mounted read-only onto themselves
};

// /proc/acpi, /proc/asound, /proc/kcore, /proc/keys, /proc/latency_stats, /proc/timer_list,
// /proc/timer_stats, /proc/sched_debug, /proc/scsi, /sys/firmware, /sys/devices/virtual/powercap;
// read-only: /proc/bus, /proc/fs, /proc/irq, /proc/sys, /proc/sysrq-trigger.
HardeningPaths default_hardening_paths();

// privileged -> nothing masked or read-only; otherwise the CRI lists, each replaced by the
// default when empty (the kubelet sends the defaults, or empty lists for procMount Unmasked,
// which the CRI cannot tell apart from "unset"). Non-absolute paths -> kInvalidArgument.
HardeningPaths hardening_paths(bool privileged, const std::vector<std::string>& cri_masked,
                               const std::vector<std::string>& cri_readonly);

}  // namespace crisp::security
