#include <errno.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>

#include "runtime/base/error.h"
#include "runtime/base/file_util.h"
#include "runtime/security/capabilities.h"
#include "runtime/security/seccomp_filter.h"
#include "runtime/security/seccomp_profile.h"

namespace crisp::security {
namespace {

class TempDir {
 public:
  TempDir() {
    char tmpl[] = "/tmp/crisp-seccomp-test-XXXXXX";
    if (!::mkdtemp(tmpl)) throw std::runtime_error("mkdtemp");
    path_ = tmpl;
  }
  ~TempDir() { crisp::remove_tree(path_); }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

SeccompContext default_context() { return SeccompContext{default_capability_mask(), "SCMP_ARCH_X86_64"}; }

// Runs fn in a child that attached the BPF program first; returns fn's value as exit code.
int run_filtered(const std::string& bpf, int (*fn)()) {
  pid_t pid = ::fork();
  if (pid == 0) {
    struct sock_fprog prog;
    prog.len = static_cast<unsigned short>(bpf.size() / sizeof(struct sock_filter));
    prog.filter = reinterpret_cast<struct sock_filter*>(const_cast<char*>(bpf.data()));
    if (::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) ::_exit(100);
    if (::prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog) != 0) ::_exit(101);
    ::_exit(fn());
  }
  int status = 0;
  ::waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

TEST(SeccompProfile, ParsesOciProfile) {
  const char* text = R"({
    "defaultAction": "SCMP_ACT_ERRNO", "defaultErrnoRet": 38,
    "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86"],
    "flags": ["SECCOMP_FILTER_FLAG_LOG"],
    "syscalls": [
      {"names": ["read", "write"], "action": "SCMP_ACT_ALLOW"},
      {"names": ["personality"], "action": "SCMP_ACT_ALLOW",
       "args": [{"index": 0, "value": 8, "op": "SCMP_CMP_EQ"}]},
      {"names": ["clone"], "action": "SCMP_ACT_ALLOW",
       "args": [{"index": 0, "value": 2114060288, "valueTwo": 0, "op": "SCMP_CMP_MASKED_EQ"}]},
      {"names": ["mkdir"], "action": "SCMP_ACT_ERRNO", "errnoRet": 13}
    ]})";
  SeccompProfile p = parse_seccomp_profile(text, default_context());
  EXPECT_EQ(p.default_action, SeccompAction::kErrno);
  EXPECT_EQ(p.default_errno_ret, 38u);
  EXPECT_EQ(p.architectures, (std::vector<std::string>{"SCMP_ARCH_X86_64", "SCMP_ARCH_X86"}));
  ASSERT_EQ(p.syscalls.size(), 4u);
  EXPECT_EQ(p.syscalls[0].names, (std::vector<std::string>{"read", "write"}));
  EXPECT_EQ(p.syscalls[1].args[0].value, 8u);
  EXPECT_EQ(p.syscalls[2].args[0].op, SeccompOp::kMaskedEqual);
  EXPECT_EQ(p.syscalls[2].args[0].value, 2114060288u);
  EXPECT_EQ(p.syscalls[3].errno_ret, 13u);
}

TEST(SeccompProfile, DockerConditionsResolveAgainstCapabilities) {
  const char* text = R"({
    "defaultAction": "SCMP_ACT_ERRNO",
    "archMap": [{"architecture": "SCMP_ARCH_X86_64", "subArchitectures": ["SCMP_ARCH_X86", "SCMP_ARCH_X32"]},
                {"architecture": "SCMP_ARCH_AARCH64", "subArchitectures": ["SCMP_ARCH_ARM"]}],
    "syscalls": [
      {"names": ["mount"], "action": "SCMP_ACT_ALLOW", "includes": {"caps": ["CAP_SYS_ADMIN"]}},
      {"names": ["clone"], "action": "SCMP_ACT_ALLOW", "excludes": {"caps": ["CAP_SYS_ADMIN"]}},
      {"names": ["arch_prctl"], "action": "SCMP_ACT_ALLOW", "includes": {"arches": ["amd64", "x32"]}},
      {"names": ["sync_file_range2"], "action": "SCMP_ACT_ALLOW", "includes": {"arches": ["ppc64le"]}}
    ]})";
  SeccompProfile p = parse_seccomp_profile(text, default_context());
  EXPECT_EQ(p.architectures, (std::vector<std::string>{"SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"}));
  ASSERT_EQ(p.syscalls.size(), 2u);
  EXPECT_EQ(p.syscalls[0].names[0], "clone");
  EXPECT_EQ(p.syscalls[1].names[0], "arch_prctl");
  SeccompContext admin = default_context();
  admin.bounding_capabilities |= uint64_t{1} << 21;  // CAP_SYS_ADMIN
  p = parse_seccomp_profile(text, admin);
  ASSERT_EQ(p.syscalls.size(), 2u);
  EXPECT_EQ(p.syscalls[0].names[0], "mount");
}

TEST(SeccompProfile, BadProfilesAreClearErrors) {
  const char* bad[] = {
      "not json",
      "[]",
      R"({"syscalls": []})",
      R"({"defaultAction": "SCMP_ACT_SOMETIMES"})",
      R"({"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [{"names": ["read"]}]})",
      R"({"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [{"names": ["read"], "action": "SCMP_ACT_NOTIFY"}]})",
      R"({"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [{"action": "SCMP_ACT_ALLOW"}]})",
      R"({"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [{"names": ["read"], "action": "SCMP_ACT_ALLOW",
          "args": [{"index": 9, "value": 1, "op": "SCMP_CMP_EQ"}]}]})",
      R"({"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [{"names": ["read"], "action": "SCMP_ACT_ALLOW",
          "args": [{"index": 0, "value": 1, "op": "SCMP_CMP_ALMOST"}]}]})",
      R"({"defaultAction": "SCMP_ACT_ERRNO", "syscalls": "read"})",
  };
  for (const char* text : bad) {
    try {
      parse_seccomp_profile(text, default_context());
      ADD_FAILURE() << "accepted: " << text;
    } catch (const Error& e) {
      EXPECT_EQ(e.kind(), ErrorKind::kInvalidArgument) << text;
      EXPECT_NE(std::string(e.what()).find("seccomp"), std::string::npos) << e.what();
    }
  }
  SeccompProfile unknown_arch;
  unknown_arch.architectures = {"SCMP_ARCH_VAX"};
  EXPECT_THROW(compile_seccomp_bpf(unknown_arch), Error);
}

TEST(SeccompProfile, ChoiceStrings) {
  EXPECT_EQ(parse_seccomp_profile_path("").kind, SeccompChoice::Kind::kUnconfined);
  EXPECT_EQ(parse_seccomp_profile_path("unconfined").kind, SeccompChoice::Kind::kUnconfined);
  EXPECT_EQ(parse_seccomp_profile_path("runtime/default").kind, SeccompChoice::Kind::kRuntimeDefault);
  EXPECT_EQ(parse_seccomp_profile_path("docker/default").kind, SeccompChoice::Kind::kRuntimeDefault);
  auto local = parse_seccomp_profile_path("localhost//etc/p.json");
  EXPECT_EQ(local.kind, SeccompChoice::Kind::kLocalhost);
  EXPECT_EQ(local.localhost_path, "/etc/p.json");
  EXPECT_THROW(parse_seccomp_profile_path("localhost/relative.json"), Error);
  EXPECT_THROW(parse_seccomp_profile_path("whatever"), Error);
  EXPECT_EQ(resolve_seccomp_choice({}, default_context()), std::nullopt);
  try {
    resolve_seccomp_choice({SeccompChoice::Kind::kLocalhost, "/nonexistent/profile.json"}, default_context());
    ADD_FAILURE();
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kNotFound);
  }
}

TEST(SeccompProfile, DigestIsStableAndContentSensitive) {
  SeccompProfile a = runtime_default_seccomp_profile(default_context());
  SeccompProfile b = runtime_default_seccomp_profile(default_context());
  EXPECT_EQ(seccomp_profile_digest(a), seccomp_profile_digest(b));
  EXPECT_EQ(seccomp_profile_digest(a).size(), 64u);
  SeccompContext admin = default_context();
  admin.bounding_capabilities |= uint64_t{1} << 21;
  EXPECT_NE(seccomp_profile_digest(a), seccomp_profile_digest(runtime_default_seccomp_profile(admin)));
  // canonical JSON parses back to the same profile
  EXPECT_EQ(parse_seccomp_profile(canonical_seccomp_json(a), default_context()), a);
}

int try_unshare() { return ::unshare(CLONE_NEWUTS) == 0 ? 0 : errno; }
int try_mount() { return ::mount("none", "/tmp", "tmpfs", 0, nullptr) == 0 ? 0 : errno; }
int try_getpid_and_write() { return ::getpid() > 0 && ::write(2, "", 0) == 0 ? 0 : 1; }
int try_clone_newns() {
  return ::syscall(SYS_clone, CLONE_NEWNS | SIGCHLD, 0, 0, 0, 0) < 0 ? errno : 0;
}
int try_personality_bad() { return ::syscall(SYS_personality, 0x0400000) < 0 ? errno : 0; }
int try_mkdir() { return ::mkdir("/tmp/crisp-seccomp-should-not-exist", 0700) == 0 ? 0 : errno; }

TEST(SeccompFilter, RuntimeDefaultBlocksWhatDockerBlocks) {
  std::string bpf = compile_seccomp_bpf(runtime_default_seccomp_profile(default_context()));
  ASSERT_GT(bpf.size(), 100 * sizeof(struct sock_filter));
  ASSERT_EQ(bpf.size() % sizeof(struct sock_filter), 0u);
  EXPECT_EQ(run_filtered(bpf, try_getpid_and_write), 0);
  EXPECT_EQ(run_filtered(bpf, try_unshare), EPERM);
  EXPECT_EQ(run_filtered(bpf, try_mount), EPERM);
  EXPECT_EQ(run_filtered(bpf, try_clone_newns), EPERM);
  EXPECT_EQ(run_filtered(bpf, try_personality_bad), EPERM);
}

TEST(SeccompFilter, LocalhostProfileCompilesAndWorks) {
  TempDir dir;
  std::string path = dir.path() + "/profile.json";
  crisp::atomic_write_file(path, R"({"defaultAction": "SCMP_ACT_ALLOW",
      "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 13},
                   {"names": ["syscall_from_the_future"], "action": "SCMP_ACT_ERRNO"}]})");
  auto profile = resolve_seccomp_choice({SeccompChoice::Kind::kLocalhost, path}, default_context());
  ASSERT_TRUE(profile);
  std::string bpf = compile_seccomp_bpf(*profile);
  EXPECT_EQ(run_filtered(bpf, try_mkdir), EACCES);
  EXPECT_EQ(run_filtered(bpf, try_unshare), 0);  // allowed by this profile (we run as root in tests)
}

TEST(SeccompFilter, CacheCompilesOncePerProfile) {
  TempDir dir;
  SeccompFilterCache cache(dir.path() + "/seccomp");
  SeccompProfile p = runtime_default_seccomp_profile(default_context());
  std::string first = cache.filter_path(p);
  EXPECT_EQ(first, dir.path() + "/seccomp/" + seccomp_profile_digest(p) + ".bpf");
  struct stat st1;
  ASSERT_EQ(::stat(first.c_str(), &st1), 0);
  EXPECT_GT(st1.st_size, 0);
  EXPECT_EQ(cache.filter_path(p), first);
  // A new cache over the same dir finds the file and does not rewrite it.
  SeccompFilterCache again(dir.path() + "/seccomp");
  EXPECT_EQ(again.filter_path(p), first);
  struct stat st2;
  ASSERT_EQ(::stat(first.c_str(), &st2), 0);
  EXPECT_EQ(st1.st_ino, st2.st_ino);
  SeccompContext admin = default_context();
  admin.bounding_capabilities |= uint64_t{1} << 21;
  EXPECT_NE(cache.filter_path(runtime_default_seccomp_profile(admin)), first);
}

}  // namespace
}  // namespace crisp::security

namespace crisp::security {
namespace {

TEST(SeccompFilter, RuntimeDefaultPathIsRemembered) {
  TempDir dir;
  SeccompFilterCache cache(dir.path() + "/seccomp");
  SeccompProfile p = runtime_default_seccomp_profile(default_context());
  std::string path = cache.runtime_default_path(default_context());
  EXPECT_EQ(path, cache.filter_path(p));
  EXPECT_EQ(cache.runtime_default_path(default_context()), path);
  // A different bounding set gets its own profile and file.
  SeccompContext admin = default_context();
  admin.bounding_capabilities |= uint64_t{1} << 21;
  EXPECT_NE(cache.runtime_default_path(admin), path);
}

}  // namespace
}  // namespace crisp::security
