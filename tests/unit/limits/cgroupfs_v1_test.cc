#include <gtest/gtest.h>
#include <unistd.h>

#include "runtime/base/error.h"
#include "runtime/cgroups/cgroup_driver.h"
#include "tests/unit/limits/fake_cgroup_tree.h"

namespace crisp::cgroups {
namespace {

using testing::FakeCgroupTree;

// A v1 root like these machines': cpu and cpuacct links to "cpu,cpuacct".
class CgroupfsV1Test : public ::testing::Test {
 protected:
  void SetUp() override {
    tree.make("cpu,cpuacct");
    ASSERT_EQ(::symlink("cpu,cpuacct", tree.dir("cpu").c_str()), 0);
    ASSERT_EQ(::symlink("cpu,cpuacct", tree.dir("cpuacct").c_str()), 0);
    tree.make("memory");
    tree.make("pids");
    tree.make("cpuset", {{"cpuset.cpus", "0-1\n"}, {"cpuset.mems", "0\n"}});
    tree.make("devices");
    driver = make_cgroupfs_v1_driver(tree.root());
  }

  // The control files the kernel would make in a new cgroup "path" (relative, no leading /).
  void kernel_files(const std::string& path) {
    for (size_t slash = path.find('/'); slash != std::string::npos; slash = path.find('/', slash + 1)) {
      kernel_files_at(path.substr(0, slash));
    }
    kernel_files_at(path);
  }
  void kernel_files_at(const std::string& path) {
    if (tree.exists("memory/" + path + "/cgroup.procs")) return;
    tree.make("cpu,cpuacct/" + path, {{"cpu.shares", "1024\n"},
                                      {"cpu.cfs_period_us", "100000\n"},
                                      {"cpu.cfs_quota_us", "-1\n"},
                                      {"cpuacct.usage", "0\n"},
                                      {"cgroup.procs", ""}});
    tree.make("memory/" + path, {{"memory.limit_in_bytes", "9223372036854771712\n"},
                                 {"memory.memsw.limit_in_bytes", "9223372036854771712\n"},
                                 {"memory.usage_in_bytes", "0\n"},
                                 {"cgroup.procs", ""}});
    tree.make("pids/" + path, {{"pids.max", "max\n"}, {"cgroup.procs", ""}});
    tree.make("cpuset/" + path, {{"cpuset.cpus", "\n"}, {"cpuset.mems", "\n"}, {"cgroup.procs", ""}});
    tree.make("devices/" + path, {{"devices.allow", ""}, {"devices.deny", ""}, {"cgroup.procs", ""}});
  }

  FakeCgroupTree tree;
  std::unique_ptr<CgroupDriver> driver;
};

TEST_F(CgroupfsV1Test, PathsInCgroupfsSyntax) {
  EXPECT_EQ(driver->version(), CgroupVersion::kV1);
  EXPECT_STREQ(driver->name(), "cgroupfs");
  EXPECT_EQ(driver->pod_cgroup_path("/kubepods/burstable/pod12/", "sb"), "/kubepods/burstable/pod12");
  EXPECT_EQ(driver->pod_cgroup_path("kubepods//besteffort/pod1", "sb"), "/kubepods/besteffort/pod1");
  EXPECT_EQ(driver->pod_cgroup_path("", "abc"), "/crisp/abc");
  EXPECT_EQ(driver->container_cgroup_path("/kubepods/pod1", "c1"), "/kubepods/pod1/c1");
  EXPECT_THROW(driver->pod_cgroup_path("kubepods-burstable-pod1.slice", "sb"), Error);
  EXPECT_THROW(driver->pod_cgroup_path("/a/../b", "sb"), Error);
  EXPECT_THROW(driver->pod_cgroup_path("/", "sb"), Error);
  EXPECT_THROW(driver->container_cgroup_path("/p", "a/b"), Error);
}

TEST_F(CgroupfsV1Test, CreateWritesEveryController) {
  kernel_files("pod/c1");
  CgroupRequest req;
  req.path = "/pod/c1";
  req.resources.cpu_shares = 512;
  req.resources.cpu_quota = 50000;
  req.resources.cpu_period = 100000;
  req.resources.memory_limit = 64 << 20;
  req.resources.memory_swap = 64 << 20;
  req.resources.pids_limit = 20;
  req.resources.devices = {{false, 'a', -1, -1, "rwm"}, {true, 'c', 1, 3, "rwm"}};
  driver->create(req);
  EXPECT_EQ(tree.read("cpu,cpuacct/pod/c1/cpu.shares"), "512");
  EXPECT_EQ(tree.read("cpu,cpuacct/pod/c1/cpu.cfs_quota_us"), "50000");
  EXPECT_EQ(tree.read("cpu,cpuacct/pod/c1/cpu.cfs_period_us"), "100000");
  EXPECT_EQ(tree.read("memory/pod/c1/memory.limit_in_bytes"), std::to_string(64 << 20));
  EXPECT_EQ(tree.read("memory/pod/c1/memory.memsw.limit_in_bytes"), std::to_string(64 << 20));
  EXPECT_EQ(tree.read("pids/pod/c1/pids.max"), "20");
  // v1 cpuset children inherit cpus/mems so tasks can join.
  EXPECT_EQ(tree.read("cpuset/pod/c1/cpuset.cpus"), "0-1");
  EXPECT_EQ(tree.read("cpuset/pod/c1/cpuset.mems"), "0");
  EXPECT_EQ(tree.read("devices/pod/c1/devices.allow"), "c 1:3 rwm");
  EXPECT_EQ(tree.read("devices/pod/c1/devices.deny"), "a *:* rwm");
  EXPECT_TRUE(driver->exists("/pod/c1"));
}

TEST_F(CgroupfsV1Test, UnlimitedValues) {
  kernel_files("pod/c1");
  CgroupRequest req;
  req.path = "/pod/c1";
  req.resources.memory_limit = -1;
  req.resources.pids_limit = -1;
  req.resources.cpu_quota = -1;
  driver->create(req);
  EXPECT_EQ(tree.read("memory/pod/c1/memory.limit_in_bytes"), "-1");
  EXPECT_EQ(tree.read("memory/pod/c1/memory.memsw.limit_in_bytes"), "-1");  // runc: unlimited swap too
  EXPECT_EQ(tree.read("pids/pod/c1/pids.max"), "max");
  EXPECT_EQ(tree.read("cpu,cpuacct/pod/c1/cpu.cfs_quota_us"), "-1");
}

TEST_F(CgroupfsV1Test, ProcsFilesOnePerHierarchy) {
  auto files = driver->procs_files("/pod/c1");
  // cpu and cpuacct share one hierarchy: 5 distinct hierarchies.
  ASSERT_EQ(files.size(), 5u);
  for (const auto& f : files) {
    EXPECT_EQ(f.rfind(tree.root(), 0), 0u) << f;
    EXPECT_NE(f.find("/pod/c1/cgroup.procs"), std::string::npos) << f;
  }
}

TEST_F(CgroupfsV1Test, BadInputCreatesNothing) {
  CgroupRequest req;
  req.path = "/pod/c1";
  req.resources.memory_limit = -20;
  EXPECT_THROW(driver->create(req), Error);
  EXPECT_FALSE(tree.exists("memory/pod"));
  req.resources = {};
  req.resources.unified = {{"memory.high", "1"}};
  try {
    driver->create(req);
    ADD_FAILURE();
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kInvalidArgument);
  }
  EXPECT_FALSE(tree.exists("memory/pod"));
}

TEST_F(CgroupfsV1Test, KernelFailureRollsBackCreatedDirectories) {
  // No control files: the first write fails; every directory the call made is removed.
  CgroupRequest req;
  req.path = "/newpod/c1";
  req.resources.cpu_shares = 2;
  EXPECT_THROW(driver->create(req), Error);
  EXPECT_FALSE(tree.exists("memory/newpod"));
  EXPECT_FALSE(tree.exists("cpu,cpuacct/newpod"));
}

TEST_F(CgroupfsV1Test, UpdateChangesOnlyGivenFields) {
  kernel_files("pod/c1");
  CgroupRequest req;
  req.path = "/pod/c1";
  req.resources.memory_limit = 64 << 20;
  driver->create(req);
  CgroupResources upd;
  upd.memory_limit = 128 << 20;
  upd.cpu_quota = 20000;
  driver->update("/pod/c1", upd);
  EXPECT_EQ(tree.read("memory/pod/c1/memory.limit_in_bytes"), std::to_string(128 << 20));
  EXPECT_EQ(tree.read("cpu,cpuacct/pod/c1/cpu.cfs_quota_us"), "20000");
  EXPECT_EQ(tree.read("cpu,cpuacct/pod/c1/cpu.shares"), "1024\n");
  try {
    driver->update("/missing", upd);
    ADD_FAILURE();
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kNotFound);
  }
}

TEST_F(CgroupfsV1Test, SwapWithoutAccounting) {
  kernel_files("pod/c1");
  ::unlink(tree.dir("memory/pod/c1/memory.memsw.limit_in_bytes").c_str());
  CgroupResources r;
  r.memory_limit = 64 << 20;
  r.memory_swap = 64 << 20;  // "no swap": fine without memsw
  EXPECT_NO_THROW(driver->update("/pod/c1", r));
  r.memory_swap = 128 << 20;  // a real swap limit is not
  try {
    driver->update("/pod/c1", r);
    ADD_FAILURE();
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kUnimplemented);
  }
}

TEST_F(CgroupfsV1Test, StatsAndOom) {
  kernel_files("pod/c1");
  tree.write("cpu,cpuacct/pod/c1/cpuacct.usage", "123456789\n");
  tree.write("cpu,cpuacct/pod/c1/cpuacct.stat", "user 10\nsystem 5\n");
  tree.write("memory/pod/c1/memory.usage_in_bytes", "10000\n");
  tree.write("memory/pod/c1/memory.limit_in_bytes", "50000\n");
  tree.write("memory/pod/c1/memory.stat",
             "cache 5\nrss 7\ntotal_rss 3000\ntotal_inactive_file 4000\ntotal_pgfault 11\ntotal_pgmajfault 2\n");
  tree.write("memory/pod/c1/memory.oom_control", "oom_kill_disable 0\nunder_oom 0\noom_kill 2\n");
  tree.write("pids/pod/c1/pids.current", "4\n");
  tree.write("pids/pod/c1/pids.max", "10\n");
  tree.write("cpu,cpuacct/pod/c1/cgroup.procs", "12\n34\n");
  CgroupStats s = driver->stats("/pod/c1");
  EXPECT_EQ(s.cpu_usage_ns, 123456789u);
  EXPECT_GT(s.cpu_user_ns, 0u);
  EXPECT_EQ(s.memory_usage_bytes, 10000u);
  EXPECT_EQ(s.memory_working_set_bytes, 6000u);
  EXPECT_EQ(s.memory_rss_bytes, 3000u);
  EXPECT_EQ(s.memory_page_faults, 11u);
  EXPECT_EQ(s.memory_major_page_faults, 2u);
  EXPECT_EQ(s.memory_limit_bytes, 50000u);
  EXPECT_EQ(s.memory_available_bytes, 44000u);
  EXPECT_EQ(s.pids_current, 4u);
  EXPECT_EQ(s.pids_limit, 10u);
  EXPECT_EQ(s.oom_kills, 2u);
  EXPECT_EQ(driver->oom_kill_count("/pod/c1"), 2u);
  EXPECT_EQ(driver->oom_kill_count("/gone"), 0u);
  EXPECT_EQ(driver->pids("/pod/c1"), (std::vector<pid_t>{12, 34}));
  // Unlimited memory reads as 0 limit, 0 available.
  tree.write("memory/pod/c1/memory.limit_in_bytes", "9223372036854771712\n");
  EXPECT_EQ(driver->stats("/pod/c1").memory_limit_bytes, 0u);
}

TEST_F(CgroupfsV1Test, RemoveDeletesEveryHierarchy) {
  kernel_files("pod/c1");
  driver->create(CgroupRequest{"/pod/c1", {}, {}});
  driver->remove("/pod/c1");
  EXPECT_FALSE(tree.exists("memory/pod/c1"));
  EXPECT_FALSE(tree.exists("cpu,cpuacct/pod/c1"));
  EXPECT_TRUE(tree.exists("memory/pod"));
  EXPECT_NO_THROW(driver->remove("/pod/c1"));  // idempotent
  driver->remove("/pod");
  EXPECT_FALSE(tree.exists("pids/pod"));
  EXPECT_THROW(driver->remove("/"), Error);
}

TEST(CgroupVersion, Detect) {
  FakeCgroupTree tree;
  EXPECT_EQ(detect_cgroup_version(tree.root()), CgroupVersion::kV1);
  tree.write("cgroup.controllers", "cpu memory\n");
  EXPECT_EQ(detect_cgroup_version(tree.root()), CgroupVersion::kV2);
}

}  // namespace
}  // namespace crisp::cgroups
