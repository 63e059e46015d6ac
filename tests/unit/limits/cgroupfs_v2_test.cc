#include <gtest/gtest.h>

#include "runtime/base/error.h"
#include "runtime/cgroups/cgroup_driver.h"
#include "runtime/cgroups/device_filter_v2.h"
#include "tests/unit/limits/fake_cgroup_tree.h"

namespace crisp::cgroups {
namespace {

using testing::FakeCgroupTree;

class CgroupfsV2Test : public ::testing::Test {
 protected:
  void SetUp() override {
    tree.make("", {{"cgroup.controllers", "cpuset cpu io memory hugetlb pids rdma\n"}, {"cgroup.subtree_control", ""}});
    driver = make_cgroupfs_v2_driver(tree.root());
  }
  void kernel_files(const std::string& path, const std::string& controllers) {
    tree.make(path, {{"cgroup.controllers", controllers},
                     {"cgroup.subtree_control", ""},
                     {"cgroup.procs", ""},
                     {"cpu.weight", "100\n"},
                     {"cpu.max", "max 100000\n"},
                     {"cpuset.cpus", ""},
                     {"cpuset.mems", ""},
                     {"memory.max", "max\n"},
                     {"memory.swap.max", "max\n"},
                     {"memory.high", "max\n"},
                     {"pids.max", "max\n"},
                     {"hugetlb.2MB.max", "max\n"}});
  }
  FakeCgroupTree tree;
  std::unique_ptr<CgroupDriver> driver;
};

TEST_F(CgroupfsV2Test, CreateEnablesControllersAndConvertsValues) {
  kernel_files("kubepods", "cpuset cpu memory pids hugetlb\n");
  kernel_files("kubepods/pod1", "cpu memory pids\n");
  kernel_files("kubepods/pod1/c1", "");
  CgroupRequest req;
  req.path = "/kubepods/pod1/c1";
  req.resources.cpu_shares = 1024;
  req.resources.cpu_quota = 50000;
  req.resources.cpu_period = 100000;
  req.resources.memory_limit = 100 << 20;
  req.resources.memory_swap = 150 << 20;
  req.resources.pids_limit = -1;
  req.resources.cpuset_cpus = "0";
  req.resources.hugepage_limits = {{"2MB", 4 << 20}, {"1GB", 0}};
  req.resources.unified = {{"memory.high", "90000000"}};
  driver->create(req);
  EXPECT_EQ(tree.read("cgroup.subtree_control"), "+cpu +cpuset +memory +pids +hugetlb +io");
  EXPECT_EQ(tree.read("kubepods/cgroup.subtree_control"), "+cpu +cpuset +memory +pids +hugetlb");
  EXPECT_EQ(tree.read("kubepods/pod1/cgroup.subtree_control"), "+cpu +memory +pids");
  EXPECT_EQ(tree.read("kubepods/pod1/c1/cpu.weight"), "39");
  EXPECT_EQ(tree.read("kubepods/pod1/c1/cpu.max"), "50000 100000");
  EXPECT_EQ(tree.read("kubepods/pod1/c1/memory.max"), std::to_string(100 << 20));
  EXPECT_EQ(tree.read("kubepods/pod1/c1/memory.swap.max"), std::to_string(50 << 20));
  EXPECT_EQ(tree.read("kubepods/pod1/c1/pids.max"), "max");
  EXPECT_EQ(tree.read("kubepods/pod1/c1/cpuset.cpus"), "0");
  EXPECT_EQ(tree.read("kubepods/pod1/c1/hugetlb.2MB.max"), std::to_string(4 << 20));
  EXPECT_EQ(tree.read("kubepods/pod1/c1/memory.high"), "90000000");
  EXPECT_EQ(driver->procs_files("/kubepods/pod1/c1"),
            std::vector<std::string>{tree.root() + "/kubepods/pod1/c1/cgroup.procs"});
}

TEST_F(CgroupfsV2Test, UnlimitedMemoryMeansUnlimitedSwap) {
  kernel_files("p", "");
  CgroupResources r;
  r.memory_limit = -1;
  r.cpu_quota = -1;
  driver->update("/p", r);
  EXPECT_EQ(tree.read("p/memory.max"), "max");
  EXPECT_EQ(tree.read("p/memory.swap.max"), "max");
  EXPECT_EQ(tree.read("p/cpu.max"), "max");
}

TEST_F(CgroupfsV2Test, UnknownUnifiedKeyIsRejected) {
  kernel_files("p", "");
  CgroupResources r;
  r.unified = {{"memory.nonexistent", "1"}};
  try {
    driver->update("/p", r);
    ADD_FAILURE();
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kInvalidArgument);
  }
}

TEST_F(CgroupfsV2Test, DeviceProgramFailureCreatesNothing) {
  // A fake tree is no cgroup: attaching the device program fails and the create rolls back.
  CgroupRequest req;
  req.path = "/p/c";
  req.resources.devices = {{true, 'c', 1, 3, "rwm"}};
  EXPECT_THROW(driver->create(req), Error);
  EXPECT_FALSE(tree.exists("p"));
}

TEST(DeviceProgram, ShapeOfTheProgram) {
  // Deny-all first, then two allows: tested last-to-first, ending in the unconditional deny.
  auto prog = build_device_program({{false, 'a', -1, -1, "rwm"}, {true, 'c', 1, 3, "rwm"}, {true, 'c', 5, -1, "r"}});
  ASSERT_GT(prog.size(), 10u);
  const auto& last = prog.back();
  EXPECT_EQ(last.code, BPF_JMP | BPF_EXIT);
  const auto& before = prog[prog.size() - 2];
  EXPECT_EQ(before.code, BPF_ALU64 | BPF_MOV | BPF_K);
  EXPECT_EQ(before.imm, 0);  // deny
  // Nothing matched and no deny-all: the program still ends in deny.
  auto allow_only = build_device_program({{true, 'c', 1, 3, "rwm"}});
  EXPECT_EQ(allow_only.back().code, BPF_JMP | BPF_EXIT);
  EXPECT_EQ(allow_only[allow_only.size() - 2].imm, 0);
}

TEST_F(CgroupfsV2Test, StatsAndOomFromEvents) {
  kernel_files("p", "");
  tree.write("p/cpu.stat", "usage_usec 1500\nuser_usec 1000\nsystem_usec 500\n");
  tree.write("p/memory.current", "8192\n");
  tree.write("p/memory.max", "16384\n");
  tree.write("p/memory.stat", "anon 4096\nfile 4096\ninactive_file 1024\npgfault 9\npgmajfault 1\n");
  tree.write("p/memory.events", "low 0\nhigh 0\nmax 3\noom 1\noom_kill 1\n");
  tree.write("p/pids.current", "3\n");
  CgroupStats s = driver->stats("/p");
  EXPECT_EQ(s.cpu_usage_ns, 1500000u);
  EXPECT_EQ(s.cpu_user_ns, 1000000u);
  EXPECT_EQ(s.cpu_system_ns, 500000u);
  EXPECT_EQ(s.memory_usage_bytes, 8192u);
  EXPECT_EQ(s.memory_working_set_bytes, 7168u);
  EXPECT_EQ(s.memory_rss_bytes, 4096u);
  EXPECT_EQ(s.memory_available_bytes, 16384u - 7168u);
  EXPECT_EQ(s.memory_page_faults, 9u);
  EXPECT_EQ(s.pids_current, 3u);
  EXPECT_EQ(s.pids_limit, 0u);  // max
  EXPECT_EQ(s.oom_kills, 1u);
  EXPECT_EQ(driver->oom_kill_count("/p"), 1u);
}

TEST_F(CgroupfsV2Test, RemoveRetriesAndIsIdempotent) {
  kernel_files("p/c", "");
  driver->remove("/p/c");
  EXPECT_FALSE(tree.exists("p/c"));
  EXPECT_NO_THROW(driver->remove("/p/c"));
}

}  // namespace
}  // namespace crisp::cgroups
