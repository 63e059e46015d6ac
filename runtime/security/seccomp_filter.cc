#include "runtime/security/seccomp_filter.h"

#include <errno.h>
#include <seccomp.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>

#include "runtime/base/error.h"
#include "runtime/base/file_util.h"
#include "runtime/base/unique_fd.h"

namespace crisp::security {

namespace {

constexpr uint32_t kEperm = 1;

uint32_t to_scmp_action(SeccompAction action, std::optional<uint32_t> errno_ret) {
  switch (action) {
    case SeccompAction::kKillThread: return SCMP_ACT_KILL_THREAD;
    case SeccompAction::kKillProcess: return SCMP_ACT_KILL_PROCESS;
    case SeccompAction::kTrap: return SCMP_ACT_TRAP;
    case SeccompAction::kErrno: return SCMP_ACT_ERRNO(errno_ret.value_or(kEperm));
    case SeccompAction::kTrace: return SCMP_ACT_TRACE(errno_ret.value_or(kEperm));
    case SeccompAction::kAllow: return SCMP_ACT_ALLOW;
    case SeccompAction::kLog: return SCMP_ACT_LOG;
  }
  return SCMP_ACT_ERRNO(kEperm);
}

scmp_compare to_scmp_op(SeccompOp op) {
  switch (op) {
    case SeccompOp::kNotEqual: return SCMP_CMP_NE;
    case SeccompOp::kLessThan: return SCMP_CMP_LT;
    case SeccompOp::kLessEqual: return SCMP_CMP_LE;
    case SeccompOp::kEqualTo: return SCMP_CMP_EQ;
    case SeccompOp::kGreaterEqual: return SCMP_CMP_GE;
    case SeccompOp::kGreaterThan: return SCMP_CMP_GT;
    case SeccompOp::kMaskedEqual: return SCMP_CMP_MASKED_EQ;
  }
  return SCMP_CMP_EQ;
}

uint32_t to_scmp_arch(const std::string& name) {
  struct Named {
    const char* name;
    uint32_t arch;
  };
  static const Named kArches[] = {
      {"SCMP_ARCH_X86_64", SCMP_ARCH_X86_64}, {"SCMP_ARCH_X86", SCMP_ARCH_X86},
      {"SCMP_ARCH_X32", SCMP_ARCH_X32},       {"SCMP_ARCH_AARCH64", SCMP_ARCH_AARCH64},
      {"SCMP_ARCH_ARM", SCMP_ARCH_ARM},       {"SCMP_ARCH_PPC64LE", SCMP_ARCH_PPC64LE},
      {"SCMP_ARCH_S390X", SCMP_ARCH_S390X},   {"SCMP_ARCH_S390", SCMP_ARCH_S390},
      {"SCMP_ARCH_RISCV64", SCMP_ARCH_RISCV64}, {"SCMP_ARCH_MIPS64", SCMP_ARCH_MIPS64},
      {"SCMP_ARCH_MIPS", SCMP_ARCH_MIPS},     {"SCMP_ARCH_MIPSEL64", SCMP_ARCH_MIPSEL64},
      {"SCMP_ARCH_MIPSEL", SCMP_ARCH_MIPSEL}, {"SCMP_ARCH_PPC64", SCMP_ARCH_PPC64},
      {"SCMP_ARCH_PPC", SCMP_ARCH_PPC},
  };
  for (const auto& a : kArches) {
    if (name == a.name) return a.arch;
  }
  throw Error(ErrorKind::kInvalidArgument, "invalid seccomp profile: unknown architecture \"" + name + "\"");
}

struct FilterContext {
  scmp_filter_ctx ctx;
  ~FilterContext() { seccomp_release(ctx); }
};

}  // namespace

std::string compile_seccomp_bpf(const SeccompProfile& profile) {
  uint32_t default_action = to_scmp_action(profile.default_action, profile.default_errno_ret);
  FilterContext f{seccomp_init(default_action)};
  if (!f.ctx) throw Error(ErrorKind::kInternal, "seccomp_init failed");
  // Native arch is in the context already; add the others (EEXIST for the native one is fine).
  for (const auto& name : profile.architectures) {
    uint32_t arch = to_scmp_arch(name);
    int r = seccomp_arch_add(f.ctx, arch);
    if (r < 0 && r != -EEXIST) throw_errno(ErrorKind::kInvalidArgument, -r, "seccomp: add architecture " + name);
  }
  for (const auto& rule : profile.syscalls) {
    uint32_t action = to_scmp_action(rule.action, rule.errno_ret);
    if (action == default_action) continue;
    std::vector<scmp_arg_cmp> args;
    for (const auto& a : rule.args) {
      args.push_back(scmp_arg_cmp{a.index, to_scmp_op(a.op), a.value, a.value_two});
    }
    for (const auto& name : rule.names) {
      int nr = seccomp_syscall_resolve_name(name.c_str());
      if (nr == __NR_SCMP_ERROR) continue;  // no architecture knows it
      int r = seccomp_rule_add_array(f.ctx, action, nr, static_cast<unsigned>(args.size()),
                                     args.empty() ? nullptr : args.data());
      if (r < 0) {
        throw_errno(ErrorKind::kInvalidArgument, -r, "seccomp: rule for syscall \"" + name + "\"");
      }
    }
  }
  UniqueFd memfd(::memfd_create("crisp-seccomp", MFD_CLOEXEC));
  if (!memfd) throw_errno("memfd_create");
  int r = seccomp_export_bpf(f.ctx, memfd.get());
  if (r < 0) throw_errno(ErrorKind::kInternal, -r, "seccomp_export_bpf");
  off_t size = ::lseek(memfd.get(), 0, SEEK_END);
  if (size < 0) throw_errno("lseek seccomp memfd");
  std::string bpf(static_cast<size_t>(size), '\0');
  if (::pread(memfd.get(), bpf.data(), bpf.size(), 0) != size) throw_errno("read seccomp memfd");
  return bpf;
}

SeccompFilterCache::SeccompFilterCache(std::string dir) : dir_(std::move(dir)) {}

std::string SeccompFilterCache::filter_path(const SeccompProfile& profile) {
  std::string digest = seccomp_profile_digest(profile);
  std::string path = dir_ + "/" + digest + ".bpf";
  std::lock_guard lock(mu_);
  if (known_.count(digest)) return path;
  struct stat st;
  if (::stat(path.c_str(), &st) != 0 || st.st_size == 0) {
    std::string bpf = compile_seccomp_bpf(profile);
    make_dirs(dir_, 0700);
    atomic_write_file(path, bpf, 0600);
  }
  known_.insert(digest);
  return path;
}

std::string SeccompFilterCache::runtime_default_path(const SeccompContext& ctx) {
  auto key = std::make_pair(ctx.bounding_capabilities, ctx.native_arch);
  {
    std::lock_guard lock(mu_);
    if (auto it = defaults_.find(key); it != defaults_.end()) return it->second;
  }
  std::string path = filter_path(runtime_default_seccomp_profile(ctx));
  std::lock_guard lock(mu_);
  defaults_[key] = path;
  return path;
}

}  // namespace crisp::security
