#pragma once
// Compiling seccomp profiles to BPF with libseccomp, once per profile: the container start only
// attaches the program (crisp-monitor's spec key "seccomp <path>").
#include <cstdint>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <utility>

#include "runtime/security/seccomp_profile.h"

namespace crisp::security {

// The BPF program (struct sock_filter[]) libseccomp's seccomp_export_bpf() writes for profile.
// Syscall names no architecture of the profile knows are skipped (newer/older kernels); a rule
// whose action equals the default action is skipped; unknown architecture names ->
// kInvalidArgument; libseccomp refusals -> kInvalidArgument naming the syscall.
std::string compile_seccomp_bpf(const SeccompProfile& profile);

// A directory of compiled filters named <sha256 of canonical profile>.bpf. Thread-safe.
class SeccompFilterCache {
 public:
  explicit SeccompFilterCache(std::string dir);

  // The path of the profile's compiled filter, compiling and writing it (atomically) the first
  // time a profile is seen; later calls with the same profile only look it up.
  std::string filter_path(const SeccompProfile& profile);

  // filter_path(runtime_default_seccomp_profile(ctx)), remembered per bounding set so that a
  // container start does not rebuild and hash the default profile (~80 us) every time.
  std::string runtime_default_path(const SeccompContext& ctx);

  const std::string& dir() const { return dir_; }

 private:
  std::string dir_;
  std::mutex mu_;               // guards known_ and serializes compilation of new profiles
  std::set<std::string> known_;  // digests whose file is known to exist
  std::map<std::pair<uint64_t, std::string>, std::string> defaults_;  // (caps, arch) -> path
};

}  // namespace crisp::security
