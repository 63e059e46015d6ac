// The v2 device program attached for real to a cgroup in the host's cgroup2 mount (on these v1
// machines /sys/fs/cgroup/unified; the device hook works there without any controller).
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>

#include "runtime/base/error.h"
#include "runtime/base/file_util.h"
#include "runtime/cgroups/cgroup_files.h"
#include "runtime/cgroups/device_filter_v2.h"
#include "runtime/cgroups/device_rules.h"

#ifndef CGROUP2_SUPER_MAGIC
#define CGROUP2_SUPER_MAGIC 0x63677270
#endif

namespace crisp::cgroups {
namespace {

std::string cgroup2_mount() {
  for (const char* p : {"/sys/fs/cgroup/unified", "/sys/fs/cgroup"}) {
    struct statfs fs;
    if (::statfs(p, &fs) == 0 && fs.f_type == CGROUP2_SUPER_MAGIC) return p;
  }
  return "";
}

// 0 when open(path, flags) works, errno otherwise, measured inside the cgroup.
int open_in_cgroup(const std::string& procs, const char* path, int flags) {
  pid_t pid = ::fork();
  if (pid == 0) {
    int fd = ::open(procs.c_str(), O_WRONLY | O_CLOEXEC);
    std::string self = std::to_string(::getpid());
    if (fd < 0 || ::write(fd, self.data(), self.size()) < 0) ::_exit(200);
    ::close(fd);
    int dev = ::open(path, flags | O_CLOEXEC);
    ::_exit(dev >= 0 ? 0 : errno);
  }
  int status = 0;
  ::waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 255;
}

TEST(DeviceFilterV2, OnlyAllowedDevicesOpen) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root";
  std::string mount = cgroup2_mount();
  if (mount.empty()) GTEST_SKIP() << "no cgroup2 mount";
  std::string dir = mount + "/crisp-devtest-" + random_hex(4);
  ASSERT_TRUE(make_cgroup_dir(dir));
  struct Remove {
    std::string dir;
    ~Remove() {
      try {
        remove_cgroup_dir(dir, std::chrono::milliseconds(2000));
      } catch (...) {
      }
    }
  } remove{dir};

  std::vector<DeviceRule> rules = default_device_rules();  // deny all, then null/zero/... allowed
  // Drop the allows of /dev/zero (c 1:5) and /dev/full (c 1:7).
  std::erase_if(rules, [](const DeviceRule& r) { return r.type == 'c' && r.major == 1 && (r.minor == 5 || r.minor == 7); });
  ASSERT_EQ(device_rule_line(rules[3]), "c 1:3 rwm");
  rules.push_back({true, 'c', 1, 7, "r"});  // /dev/full: read only
  attach_device_program(dir, rules);
  std::string procs = dir + "/cgroup.procs";
  EXPECT_EQ(open_in_cgroup(procs, "/dev/null", O_RDWR), 0);
  EXPECT_EQ(open_in_cgroup(procs, "/dev/zero", O_RDONLY), EPERM);
  EXPECT_EQ(open_in_cgroup(procs, "/dev/full", O_RDONLY), 0);
  EXPECT_EQ(open_in_cgroup(procs, "/dev/full", O_WRONLY), EPERM);

  // An update replaces the rules: now /dev/zero is fine and /dev/null is not.
  attach_device_program(dir, {{false, 'a', -1, -1, "rwm"}, {true, 'c', 1, 5, "rwm"}});
  EXPECT_EQ(open_in_cgroup(procs, "/dev/zero", O_RDONLY), 0);
  EXPECT_EQ(open_in_cgroup(procs, "/dev/null", O_RDONLY), EPERM);
}

}  // namespace
}  // namespace crisp::cgroups
