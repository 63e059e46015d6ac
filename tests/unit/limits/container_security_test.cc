#include "runtime/security/container_security.h"

#include <gtest/gtest.h>
#include <linux/capability.h>
#include <sys/stat.h>

#include "runtime/base/error.h"
#include "runtime/base/file_util.h"

namespace crisp::security {
namespace {

class ContainerSecurityTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/crisp-security-test-XXXXXX";
    ASSERT_TRUE(::mkdtemp(tmpl));
    dir = tmpl;
    cache = std::make_unique<SeccompFilterCache>(dir + "/seccomp");
  }
  void TearDown() override { crisp::remove_tree(dir); }
  std::string dir;
  std::unique_ptr<SeccompFilterCache> cache;
};

TEST_F(ContainerSecurityTest, DefaultContainer) {
  ContainerSecurityConfig c;
  c.seccomp.kind = SeccompChoice::Kind::kRuntimeDefault;
  ContainerSecurity s = resolve_container_security(c, 0, false, *cache);
  EXPECT_EQ(s.capabilities.effective, default_capability_mask());
  EXPECT_FALSE(s.no_new_privs);
  EXPECT_FALSE(s.seccomp_bpf_path.empty());
  struct stat st;
  EXPECT_EQ(::stat(s.seccomp_bpf_path.c_str(), &st), 0);
  EXPECT_FALSE(s.paths.masked.empty());
  // The same context again reuses the compiled file.
  EXPECT_EQ(resolve_container_security(c, 0, false, *cache).seccomp_bpf_path, s.seccomp_bpf_path);
}

TEST_F(ContainerSecurityTest, UnconfinedHasNoFilter) {
  ContainerSecurityConfig c;
  c.no_new_privs = true;
  ContainerSecurity s = resolve_container_security(c, 1000, false, *cache);
  EXPECT_TRUE(s.seccomp_bpf_path.empty());
  EXPECT_TRUE(s.no_new_privs);
  EXPECT_EQ(s.capabilities.effective, 0u);
}

TEST_F(ContainerSecurityTest, PrivilegedNeedsPrivilegedSandbox) {
  ContainerSecurityConfig c;
  c.privileged = true;
  c.seccomp.kind = SeccompChoice::Kind::kRuntimeDefault;
  EXPECT_THROW(resolve_container_security(c, 0, false, *cache), Error);
  ContainerSecurity s = resolve_container_security(c, 0, true, *cache);
  EXPECT_EQ(s.capabilities.bounding, all_capabilities_mask());
  EXPECT_TRUE(s.seccomp_bpf_path.empty());
  EXPECT_TRUE(s.paths.masked.empty());
  EXPECT_TRUE(s.paths.readonly.empty());
}

TEST_F(ContainerSecurityTest, ErrorsBeforeAnythingIsWritten) {
  ContainerSecurityConfig c;
  c.add_capabilities = {"NOT_A_CAP"};
  c.seccomp.kind = SeccompChoice::Kind::kRuntimeDefault;
  EXPECT_THROW(resolve_container_security(c, 0, false, *cache), Error);
  struct stat st;
  EXPECT_NE(::stat((dir + "/seccomp").c_str(), &st), 0);
  ContainerSecurityConfig bad_profile;
  bad_profile.seccomp = {SeccompChoice::Kind::kLocalhost, dir + "/broken.json"};
  crisp::atomic_write_file(dir + "/broken.json", "{\"defaultAction\": ");
  try {
    resolve_container_security(bad_profile, 0, false, *cache);
    ADD_FAILURE();
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kInvalidArgument);
    EXPECT_NE(std::string(e.what()).find("broken.json"), std::string::npos) << e.what();
  }
  ContainerSecurityConfig apparmor;
  apparmor.apparmor = {LsmChoice::Kind::kLocalhost, "my-profile"};
  if (!host_has_apparmor()) {
    EXPECT_THROW(resolve_container_security(apparmor, 0, false, *cache), Error);
  }
  apparmor.apparmor = {LsmChoice::Kind::kRuntimeDefault, ""};
  EXPECT_NO_THROW(resolve_container_security(apparmor, 0, false, *cache));
}

}  // namespace
}  // namespace crisp::security
