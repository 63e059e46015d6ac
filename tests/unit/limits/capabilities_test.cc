#include "runtime/security/capabilities.h"

#include <gtest/gtest.h>
#include <linux/capability.h>

#include "runtime/base/error.h"

namespace crisp::security {
namespace {

uint64_t bit(int cap) { return uint64_t{1} << cap; }

// Docker's and containerd's default CapEff as /proc/<pid>/status prints it.
constexpr uint64_t kDefaultMask = 0x00000000a80425fbull;

TEST(Capabilities, Names) {
  EXPECT_EQ(capability_from_name("CAP_CHOWN"), CAP_CHOWN);
  EXPECT_EQ(capability_from_name("chown"), CAP_CHOWN);
  EXPECT_EQ(capability_from_name("Net_Admin"), CAP_NET_ADMIN);
  EXPECT_EQ(capability_from_name("cap_sys_admin"), CAP_SYS_ADMIN);
  EXPECT_EQ(capability_name(CAP_KILL), "CAP_KILL");
  for (const char* bad : {"", "CAP_", "NOT_A_CAP", "12", "CAP_12", "net admin"}) {
    EXPECT_THROW(capability_from_name(bad), Error) << bad;
  }
}

TEST(Capabilities, DefaultSetIsDockers) {
  EXPECT_EQ(default_capability_mask(), kDefaultMask);
  CapabilitySets s = compute_capabilities({});
  EXPECT_EQ(s.bounding, kDefaultMask);
  EXPECT_EQ(s.effective, kDefaultMask);
  EXPECT_EQ(s.permitted, kDefaultMask);
  EXPECT_EQ(s.inheritable, 0u);
  EXPECT_EQ(s.ambient, 0u);
}

TEST(Capabilities, AddAndDrop) {
  CapabilityRequest r;
  r.add = {"NET_ADMIN", "CAP_SYS_TIME"};
  r.drop = {"chown", "CAP_KILL"};
  CapabilitySets s = compute_capabilities(r);
  uint64_t want = (kDefaultMask | bit(CAP_NET_ADMIN) | bit(CAP_SYS_TIME)) & ~bit(CAP_CHOWN) & ~bit(CAP_KILL);
  EXPECT_EQ(s.bounding, want);
  EXPECT_EQ(s.effective, want);
  EXPECT_EQ(s.permitted, want);
  EXPECT_EQ(s.inheritable, 0u);
}

TEST(Capabilities, AllAppliesBeforeIndividualNames) {
  CapabilityRequest r;
  r.add = {"ALL"};
  r.drop = {"CHOWN"};
  EXPECT_EQ(compute_capabilities(r).bounding, all_capabilities_mask() & ~bit(CAP_CHOWN));
  r = {};
  r.drop = {"all"};
  r.add = {"NET_BIND_SERVICE"};
  EXPECT_EQ(compute_capabilities(r).effective, bit(CAP_NET_BIND_SERVICE));
  r = {};
  r.drop = {"ALL"};
  CapabilitySets none = compute_capabilities(r);
  EXPECT_EQ(none.bounding | none.effective | none.permitted | none.inheritable | none.ambient, 0u);
}

TEST(Capabilities, PrivilegedIsEverythingTheKernelKnows) {
  CapabilityRequest r;
  r.privileged = true;
  r.drop = {"ALL"};  // ignored for privileged containers, as containerd does
  CapabilitySets s = compute_capabilities(r);
  EXPECT_EQ(s.bounding, all_capabilities_mask());
  EXPECT_EQ(s.effective, all_capabilities_mask());
  EXPECT_EQ(s.permitted, all_capabilities_mask());
  EXPECT_GE(kernel_capability_count(), 38);  // CAP_SYSLOG..CAP_PERFMON era kernels and newer
  EXPECT_NE(s.bounding & bit(CAP_SYS_ADMIN), 0u);
}

TEST(Capabilities, NonRootHasNoEffectiveUnlessAmbient) {
  CapabilityRequest r;
  r.uid = 1000;
  CapabilitySets s = compute_capabilities(r);
  EXPECT_EQ(s.bounding, kDefaultMask);
  EXPECT_EQ(s.effective, 0u);
  EXPECT_EQ(s.permitted, 0u);
  EXPECT_EQ(s.ambient, 0u);
  r.add_ambient = {"NET_BIND_SERVICE"};
  s = compute_capabilities(r);
  EXPECT_EQ(s.effective, bit(CAP_NET_BIND_SERVICE));
  EXPECT_EQ(s.permitted, bit(CAP_NET_BIND_SERVICE));
  EXPECT_EQ(s.inheritable, bit(CAP_NET_BIND_SERVICE));
  EXPECT_EQ(s.ambient, bit(CAP_NET_BIND_SERVICE));
}

TEST(Capabilities, AmbientOutsideBoundingIsAnError) {
  CapabilityRequest r;
  r.uid = 1000;
  r.add_ambient = {"SYS_ADMIN"};
  EXPECT_THROW(compute_capabilities(r), Error);
  r.add = {"SYS_ADMIN"};
  EXPECT_NO_THROW(compute_capabilities(r));
}

TEST(Capabilities, UnknownNamesAreClearErrors) {
  CapabilityRequest r;
  r.add = {"NET_ADMIN", "FLY", "CAP_WARP"};
  try {
    compute_capabilities(r);
    ADD_FAILURE();
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kInvalidArgument);
    EXPECT_NE(std::string(e.what()).find("FLY"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("CAP_WARP"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace crisp::security

namespace crisp::security {
namespace {

TEST(Capabilities, CapabilitiesCrispdLacksCannotBeAdded) {
  uint64_t all = all_capabilities_mask();
  int missing = -1;
  for (int cap = 0; cap < kernel_capability_count(); ++cap) {
    if (!(all & (uint64_t{1} << cap))) missing = cap;
  }
  if (missing < 0) GTEST_SKIP() << "this process holds every capability";
  CapabilityRequest r;
  r.add = {capability_name(missing)};
  EXPECT_THROW(compute_capabilities(r), Error);
  r.add = {"ALL"};  // ALL quietly means "all crispd has"
  EXPECT_EQ(compute_capabilities(r).bounding, all);
}

}  // namespace
}  // namespace crisp::security
