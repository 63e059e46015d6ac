#pragma once
// Seccomp profiles in plain form: what an OCI/Docker seccomp JSON profile says, crisp's
// RuntimeDefault profile (same effect as Docker's/containerd's default), and the choice between
// Unconfined, RuntimeDefault and Localhost a CRI security context makes.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace crisp::security {

enum class SeccompAction { kKillThread, kKillProcess, kTrap, kErrno, kTrace, kAllow, kLog };

enum class SeccompOp { kNotEqual, kLessThan, kLessEqual, kEqualTo, kGreaterEqual, kGreaterThan, kMaskedEqual };

// A syscall argument comparison (OCI linux.seccomp.syscalls[].args[]). For kMaskedEqual, value
// is the mask and value_two the expected (arg & mask).
struct SeccompArg {
  uint32_t index = 0;
  uint64_t value = 0;
  uint64_t value_two = 0;
  SeccompOp op = SeccompOp::kEqualTo;
  bool operator==(const SeccompArg&) const = default;
};

struct SeccompRule {
  std::vector<std::string> names;
  SeccompAction action = SeccompAction::kAllow;
  std::optional<uint32_t> errno_ret;  // for kErrno/kTrace; default EPERM
  std::vector<SeccompArg> args;       // all must match (AND)
  bool operator==(const SeccompRule&) const = default;
};

struct SeccompProfile {
  SeccompAction default_action = SeccompAction::kErrno;
  std::optional<uint32_t> default_errno_ret;  // default EPERM
  // libseccomp names: "SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32", ...
  std::vector<std::string> architectures;
  std::vector<SeccompRule> syscalls;
  bool operator==(const SeccompProfile&) const = default;
};

// What the container looks like, for Docker-style conditional rules (includes/excludes by
// capability, architecture and minimum kernel).
struct SeccompContext {
  uint64_t bounding_capabilities = 0;
  std::string native_arch = "SCMP_ARCH_X86_64";
};

// Parses an OCI runtime-spec seccomp object (defaultAction, defaultErrnoRet, architectures,
// syscalls[names|name, action, errnoRet, args{index,value,valueTwo,op}]) or a Docker profile
// (archMap, includes/excludes by caps/arches/minKernel), resolving the Docker conditions against
// ctx. Unknown actions, ops, fields of the wrong type, and SCMP_ACT_NOTIFY -> kInvalidArgument
// with the JSON position in the message.
SeccompProfile parse_seccomp_profile(const std::string& json_text, const SeccompContext& ctx);

// Deterministic JSON of a profile (sorted, no whitespace): the cache key is its sha256.
std::string canonical_seccomp_json(const SeccompProfile& profile);
// Lowercase hex sha256 of canonical_seccomp_json().
std::string seccomp_profile_digest(const SeccompProfile& profile);

// crisp's RuntimeDefault: errno EPERM by default, x86_64 + x86 + x32, Docker's allow-list, the
// personality and clone argument filters, clone3 -> ENOSYS unless CAP_SYS_ADMIN, and the extra
// syscalls Docker grants with CAP_SYS_ADMIN, CAP_SYS_PTRACE, CAP_SYS_TIME, ... when the
// container's bounding set holds them.
SeccompProfile runtime_default_seccomp_profile(const SeccompContext& ctx);

// The CRI's choice (SecurityProfile or the deprecated seccomp_profile_path string).
struct SeccompChoice {
  enum class Kind { kUnconfined, kRuntimeDefault, kLocalhost } kind = Kind::kUnconfined;
  std::string localhost_path;  // absolute path on the host for kLocalhost
};

// Deprecated strings: "" / "unconfined" -> Unconfined; "runtime/default", "docker/default" ->
// RuntimeDefault; "localhost/<abs path>" -> Localhost. Anything else -> kInvalidArgument.
SeccompChoice parse_seccomp_profile_path(const std::string& path);

// The profile for a choice: nullopt for Unconfined; the Localhost file read and parsed
// (missing/unreadable -> kNotFound/kInvalidArgument naming the file).
std::optional<SeccompProfile> resolve_seccomp_choice(const SeccompChoice& choice, const SeccompContext& ctx);

}  // namespace crisp::security
