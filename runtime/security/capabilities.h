#pragma once
// Linux capabilities of a container process: names <-> numbers (libcap) and the five sets
// computed the way containerd's CRI plugin + runc do.
#include <cstdint>
#include <string>
#include <vector>

namespace crisp::security {

// Bit n = capability n (CAP_CHOWN = bit 0), as /proc/<pid>/status shows them.
struct CapabilitySets {
  uint64_t bounding = 0;
  uint64_t effective = 0;
  uint64_t permitted = 0;
  uint64_t inheritable = 0;
  uint64_t ambient = 0;
  bool operator==(const CapabilitySets&) const = default;
};

// What the CRI security context asks for.
struct CapabilityRequest {
  std::vector<std::string> add;          // "NET_ADMIN", "CAP_NET_ADMIN", "net_admin", "ALL"
  std::vector<std::string> drop;         // same spelling; "ALL" drops every capability
  std::vector<std::string> add_ambient;  // CRI add_ambient_capabilities
  bool privileged = false;               // all capabilities the kernel knows
  uint32_t uid = 0;                      // the process' uid after setuid
};

// Capability number for a name (with or without CAP_, any case). kInvalidArgument when libcap
// does not know it.
int capability_from_name(const std::string& name);
// "CAP_CHOWN" for 0.
std::string capability_name(int cap);
// Highest capability number + 1 the running kernel knows (libcap's cap_max_bits()).
int kernel_capability_count();
// Mask of every capability the running kernel knows and crispd's own bounding set holds (what
// "ALL" and privileged mean, as containerd's WithAllCurrentCapabilities).
uint64_t all_capabilities_mask();
// The 14 capabilities containerd and Docker grant by default: CHOWN, DAC_OVERRIDE, FSETID,
// FOWNER, MKNOD, NET_RAW, SETGID, SETUID, SETFCAP, SETPCAP, NET_BIND_SERVICE, SYS_CHROOT, KILL,
// AUDIT_WRITE.
uint64_t default_capability_mask();
// Mask -> "CAP_CHOWN,CAP_KILL" (for messages and logs).
std::string capability_mask_names(uint64_t mask);

// The five sets for a container process:
//   start: privileged -> all; else the default 14
//   add "ALL" -> all, drop "ALL" -> none (applied before the individual names, so
//   add [ALL] + drop [CHOWN] = all but CHOWN), then the individual adds, then the drops;
//   bounding = effective = permitted = that set, inheritable = none (containerd after
//   CVE-2022-24769);
//   ambient: each add_ambient capability is also put in inheritable, permitted, effective (it must
//   be in the bounding set: kInvalidArgument otherwise);
//   non-root uid: effective and permitted are only the ambient ones (a non-root process does
//   not keep capabilities across exec unless they are ambient).
// Unknown names, and explicit adds crispd itself does not hold -> kInvalidArgument naming them;
// nothing partial is returned.
CapabilitySets compute_capabilities(const CapabilityRequest& request);

}  // namespace crisp::security
