#pragma once
// Everything security a container's process gets, resolved from the CRI
// LinuxContainerSecurityContext in one call: capability sets, no_new_privs, the seccomp BPF file,
// masked and read-only paths. The runtime copies the result into the monitor's ProcessSpec /
// BundleSpec.
#include <cstdint>
#include <string>
#include <vector>

#include "runtime/security/capabilities.h"
#include "runtime/security/hardening.h"
#include "runtime/security/seccomp_filter.h"
#include "runtime/security/seccomp_profile.h"

namespace crisp::security {

// An AppArmor/SELinux-style profile choice (CRI SecurityProfile).
struct LsmChoice {
  enum class Kind { kUnset, kUnconfined, kRuntimeDefault, kLocalhost } kind = Kind::kUnset;
  std::string localhost_ref;
};

// The CRI LinuxContainerSecurityContext fields crisp enforces.
struct ContainerSecurityConfig {
  bool privileged = false;
  std::vector<std::string> add_capabilities;
  std::vector<std::string> drop_capabilities;
  std::vector<std::string> add_ambient_capabilities;
  bool no_new_privs = false;
  SeccompChoice seccomp;  // Unconfined when unset, as the CRI says
  std::vector<std::string> masked_paths;    // empty = containerd defaults
  std::vector<std::string> readonly_paths;  // empty = containerd defaults
  LsmChoice apparmor;
  bool has_selinux_options = false;  // accepted; this host has no SELinux
};

struct ContainerSecurity {
  CapabilitySets capabilities;
  bool no_new_privs = false;
  std::string seccomp_bpf_path;  // empty = no filter
  HardeningPaths paths;
  std::vector<std::string> warnings;  // e.g. "apparmor runtime/default ignored: no AppArmor"
};

// Whether the host runs AppArmor / SELinux (/sys/module/apparmor, /sys/fs/selinux).
bool host_has_apparmor();
bool host_has_selinux();

// Resolves the context for a process running as uid in a sandbox. A privileged container in a
// non-privileged sandbox, unknown capability names, an AppArmor Localhost profile on a host
// without AppArmor, and an unreadable or unparseable seccomp profile -> kInvalidArgument /
// kNotFound with a clear message; nothing is written then. Privileged: all capabilities, no
// seccomp, nothing masked. RuntimeDefault seccomp is compiled (once) through cache.
ContainerSecurity resolve_container_security(const ContainerSecurityConfig& config, uint32_t uid,
                                             bool sandbox_privileged, SeccompFilterCache& cache);

}  // namespace crisp::security
