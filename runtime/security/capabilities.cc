#include "runtime/security/capabilities.h"

#include <sys/capability.h>
#include <sys/prctl.h>

#include <cerrno>

#include <algorithm>
#include <cctype>

#include "runtime/base/error.h"

namespace crisp::security {

namespace {

std::string upper(std::string s) {
  for (char& c : s) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return s;
}

bool is_all(const std::string& name) { return upper(name) == "ALL"; }

uint64_t bit(int cap) { return cap >= 0 && cap < 64 ? uint64_t{1} << cap : 0; }

uint64_t mask_of(const std::vector<std::string>& names, const char* what) {
  uint64_t mask = 0;
  std::string unknown;
  for (const auto& name : names) {
    if (is_all(name)) continue;
    try {
      mask |= bit(capability_from_name(name));
    } catch (const Error&) {
      unknown += (unknown.empty() ? "" : ", ") + name;
    }
  }
  if (!unknown.empty()) {
    throw Error(ErrorKind::kInvalidArgument, std::string("unknown capability in ") + what + ": " + unknown);
  }
  return mask;
}

}  // namespace

int capability_from_name(const std::string& name) {
  std::string n = upper(name);
  if (n.rfind("CAP_", 0) != 0) n = "CAP_" + n;
  bool plain = n.size() > 4 && std::all_of(n.begin() + 4, n.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '_';
  });
  bool numeric = plain && std::all_of(n.begin() + 4, n.end(), [](char c) {
    return std::isdigit(static_cast<unsigned char>(c));
  });
  cap_value_t value;
  if (!plain || numeric || cap_from_name(n.c_str(), &value) != 0) {
    throw Error(ErrorKind::kInvalidArgument, "unknown capability \"" + name + "\"");
  }
  return static_cast<int>(value);
}

std::string capability_name(int cap) {
  char* name = cap_to_name(static_cast<cap_value_t>(cap));
  if (!name) return "CAP_" + std::to_string(cap);
  std::string out = upper(name);
  cap_free(name);
  return out;
}

int kernel_capability_count() {
  unsigned bits = cap_max_bits();
  return static_cast<int>(std::min(bits, 64u));
}

uint64_t all_capabilities_mask() {
  int n = kernel_capability_count();
  uint64_t known = n >= 64 ? ~uint64_t{0} : (uint64_t{1} << n) - 1;
  // Like containerd's WithAllCurrentCapabilities: a capability crispd's own bounding set lacks
  // cannot be given to a container (capset would fail at start).
  uint64_t current = 0;
  for (int cap = 0; cap < n; ++cap) {
    int r = prctl(PR_CAPBSET_READ, cap, 0, 0, 0);
    if (r == 1 || (r < 0 && errno == EINVAL)) current |= bit(cap);
  }
  return known & current;
}

uint64_t default_capability_mask() {
  static const int kDefault[] = {CAP_CHOWN,  CAP_DAC_OVERRIDE, CAP_FSETID,     CAP_FOWNER,
                                 CAP_MKNOD,  CAP_NET_RAW,      CAP_SETGID,     CAP_SETUID,
                                 CAP_SETFCAP, CAP_SETPCAP,     CAP_NET_BIND_SERVICE, CAP_SYS_CHROOT,
                                 CAP_KILL,   CAP_AUDIT_WRITE};
  uint64_t mask = 0;
  for (int cap : kDefault) mask |= bit(cap);
  return mask;
}

std::string capability_mask_names(uint64_t mask) {
  std::string out;
  for (int cap = 0; cap < 64; ++cap) {
    if (mask & bit(cap)) out += (out.empty() ? "" : ",") + capability_name(cap);
  }
  return out;
}

CapabilitySets compute_capabilities(const CapabilityRequest& request) {
  // Resolve every name first so an unknown one fails before anything is computed.
  uint64_t add = mask_of(request.add, "add_capabilities");
  uint64_t drop = mask_of(request.drop, "drop_capabilities");
  uint64_t ambient = mask_of(request.add_ambient, "add_ambient_capabilities");
  for (const auto& name : request.add_ambient) {
    if (is_all(name)) throw Error(ErrorKind::kInvalidArgument, "ALL is not allowed in add_ambient_capabilities");
  }
  uint64_t known = all_capabilities_mask();

  uint64_t caps = request.privileged ? known : default_capability_mask();
  if (!request.privileged) {
    if (std::any_of(request.add.begin(), request.add.end(), is_all)) caps = known;
    if (std::any_of(request.drop.begin(), request.drop.end(), is_all)) caps = 0;
    caps |= add;
    caps &= ~drop;
  }
  uint64_t kernel_known = kernel_capability_count() >= 64 ? ~uint64_t{0}
                                                         : (uint64_t{1} << kernel_capability_count()) - 1;
  uint64_t unavailable = (add | ambient) & kernel_known & ~known;
  if (unavailable != 0 && !request.privileged) {
    throw Error(ErrorKind::kInvalidArgument, "capabilities not in crispd's own bounding set cannot be added: " +
                                                 capability_mask_names(unavailable));
  }
  caps &= known;  // names libcap knows but this kernel does not are ignored, as runc does
  ambient &= known;
  if ((ambient & ~caps) != 0) {
    throw Error(ErrorKind::kInvalidArgument, "ambient capabilities not in the bounding set: " +
                                                 capability_mask_names(ambient & ~caps));
  }

  CapabilitySets sets;
  sets.bounding = caps;
  sets.ambient = ambient;
  sets.inheritable = ambient;
  if (request.uid == 0) {
    sets.effective = caps;
    sets.permitted = caps;
  } else {
    sets.effective = ambient;
    sets.permitted = ambient;
  }
  return sets;
}

}  // namespace crisp::security
