#include <gtest/gtest.h>

#include "runtime/base/error.h"
#include "runtime/cgroups/device_rules.h"
#include "runtime/security/hardening.h"

namespace crisp {
namespace {

TEST(Devices, StatHostDevice) {
  cgroups::HostDevice null = cgroups::stat_host_device("/dev/null");
  EXPECT_EQ(null.type, 'c');
  EXPECT_EQ(null.major, 1u);
  EXPECT_EQ(null.minor, 3u);
  EXPECT_EQ(null.path, "/dev/null");
  try {
    cgroups::stat_host_device("/etc/hostname");
    ADD_FAILURE();
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kInvalidArgument);
  }
  try {
    cgroups::stat_host_device("/dev/crisp-no-such-device");
    ADD_FAILURE();
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kNotFound);
  }
  EXPECT_THROW(cgroups::stat_host_device("dev/null"), Error);
}

TEST(Devices, RulesAndPermissions) {
  auto rule = cgroups::allow_rule_for(cgroups::stat_host_device("/dev/zero"), "rw");
  EXPECT_EQ(cgroups::device_rule_line(rule), "c 1:5 rw");
  EXPECT_EQ(cgroups::device_rule_line({false, 'a', -1, -1, "rwm"}), "a *:* rwm");
  EXPECT_EQ(cgroups::device_rule_line({true, 'c', 136, -1, "rwm"}), "c 136:* rwm");
  for (const char* bad : {"", "rwx", "rr", "q"}) EXPECT_THROW(cgroups::validate_device_permissions(bad), Error) << bad;
  for (const char* good : {"r", "w", "m", "rw", "mrw", "rwm"}) EXPECT_NO_THROW(cgroups::validate_device_permissions(good));
  auto defaults = cgroups::default_device_rules();
  ASSERT_FALSE(defaults.empty());
  EXPECT_FALSE(defaults.front().allow);
  EXPECT_EQ(defaults.front().type, 'a');
}

TEST(Devices, ListHostDevicesFindsNull) {
  bool found = false;
  for (const auto& d : cgroups::list_host_devices()) found |= (d.path == "/dev/null");
  EXPECT_TRUE(found);
}

TEST(Hardening, DefaultsAndPrivileged) {
  auto d = security::default_hardening_paths();
  auto has = [](const std::vector<std::string>& v, const std::string& s) {
    return std::find(v.begin(), v.end(), s) != v.end();
  };
  EXPECT_TRUE(has(d.masked, "/proc/kcore"));
  EXPECT_TRUE(has(d.masked, "/proc/keys"));
  EXPECT_TRUE(has(d.masked, "/sys/firmware"));
  EXPECT_TRUE(has(d.readonly, "/proc/sys"));
  EXPECT_TRUE(has(d.readonly, "/proc/sysrq-trigger"));
  auto none = security::hardening_paths(true, {"/proc/kcore"}, {});
  EXPECT_TRUE(none.masked.empty());
  EXPECT_TRUE(none.readonly.empty());
  auto given = security::hardening_paths(false, {"/proc/x"}, {});
  EXPECT_EQ(given.masked, std::vector<std::string>{"/proc/x"});
  EXPECT_EQ(given.readonly, d.readonly);
  EXPECT_THROW(security::hardening_paths(false, {"proc/x"}, {}), Error);
}

}  // namespace
}  // namespace crisp
