#include "runtime/cgroups/systemd_driver.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include "runtime/base/error.h"
#include "runtime/cgroups/cgroup_files.h"
#include "tests/unit/limits/fake_cgroup_tree.h"

namespace crisp::cgroups {
namespace {

using testing::FakeCgroupTree;

// Records calls; like systemd, starting a unit makes its cgroup (in a v2 fake tree).
class FakeSystemdManager : public SystemdManager {
 public:
  struct Call {
    std::string method;
    std::string unit;
    std::vector<UnitProperty> properties;
  };
  FakeSystemdManager(const FakeCgroupTree& tree, std::vector<Call>& calls) : tree_(tree), calls_(calls) {}

  void start_transient_unit(const std::string& unit, const std::vector<UnitProperty>& properties) override {
    calls_.push_back({"StartTransientUnit", unit, properties});
    std::string parent;
    for (const auto& p : properties) {
      if (p.name == "Slice") parent = std::get<std::string>(p.value);
    }
    std::string path = unit.size() > 6 && unit.substr(unit.size() - 6) == ".scope"
                           ? expand_slice(parent) + "/" + unit
                           : expand_slice(unit);
    std::string rel = path.substr(1);
    if (tree_.exists(rel + "/cgroup.procs")) throw Error(ErrorKind::kAlreadyExists, "unit exists");
    tree_.make(rel, {{"cgroup.procs", ""}, {"memory.max", "max"}, {"cpu.max", "max 100000"}, {"pids.max", "max"},
                     {"cpu.weight", "100"}, {"memory.swap.max", "max"}});
  }
  void set_unit_properties(const std::string& unit, const std::vector<UnitProperty>& properties) override {
    calls_.push_back({"SetUnitProperties", unit, properties});
  }
  void stop_unit(const std::string& unit) override { calls_.push_back({"StopUnit", unit, {}}); }

 private:
  const FakeCgroupTree& tree_;
  std::vector<Call>& calls_;
};

const UnitPropertyValue* find(const std::vector<UnitProperty>& props, const std::string& name) {
  for (const auto& p : props) {
    if (p.name == name) return &p.value;
  }
  return nullptr;
}

TEST(SystemdSlices, ExpandLikeSystemd) {
  EXPECT_EQ(expand_slice("-.slice"), "/");
  EXPECT_EQ(expand_slice("kubepods.slice"), "/kubepods.slice");
  EXPECT_EQ(expand_slice("kubepods-burstable-pod1234.slice"),
            "/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod1234.slice");
  for (const char* bad : {"kubepods", "a--b.slice", "-a.slice", "a-.slice", "a/b.slice", ".slice"}) {
    EXPECT_THROW(expand_slice(bad), Error) << bad;
  }
}

TEST(SystemdSlices, CpuMask) {
  EXPECT_EQ(cpu_list_to_mask("0"), (ByteArray{0x01}));
  EXPECT_EQ(cpu_list_to_mask("0-2,9"), (ByteArray{0x07, 0x02}));
}

TEST(SystemdProperties, ResourcesAsUnitProperties) {
  CgroupResources r;
  r.cpu_shares = 1024;
  r.cpu_quota = 25000;
  r.cpu_period = 100000;
  r.memory_limit = 1 << 30;
  r.pids_limit = -1;
  auto v2 = resource_properties(r, CgroupVersion::kV2);
  EXPECT_EQ(std::get<uint64_t>(*find(v2, "CPUWeight")), 39u);
  EXPECT_EQ(std::get<uint64_t>(*find(v2, "CPUQuotaPerSecUSec")), 250000u);
  EXPECT_EQ(std::get<uint64_t>(*find(v2, "MemoryMax")), uint64_t{1} << 30);
  EXPECT_EQ(std::get<uint64_t>(*find(v2, "TasksMax")), ~uint64_t{0});
  auto v1 = resource_properties(r, CgroupVersion::kV1);
  EXPECT_EQ(std::get<uint64_t>(*find(v1, "CPUShares")), 1024u);
  EXPECT_EQ(std::get<uint64_t>(*find(v1, "MemoryLimit")), uint64_t{1} << 30);
  // Quota rounded up to systemd's 10ms granularity, as runc does.
  r.cpu_quota = 1234;
  r.cpu_period = 100000;
  EXPECT_EQ(std::get<uint64_t>(*find(resource_properties(r, CgroupVersion::kV2), "CPUQuotaPerSecUSec")), 20000u);
}

class SystemdDriverTest : public ::testing::Test {
 protected:
  void SetUp() override {
    tree.make("", {{"cgroup.controllers", "cpu memory pids\n"}, {"cgroup.subtree_control", ""}});
    driver = make_systemd_driver(std::make_unique<FakeSystemdManager>(tree, calls),
                                 make_cgroupfs_v2_driver(tree.root()));
  }
  FakeCgroupTree tree;
  std::vector<FakeSystemdManager::Call> calls;
  std::unique_ptr<CgroupDriver> driver;
};

TEST_F(SystemdDriverTest, PodSliceAndContainerScope) {
  EXPECT_STREQ(driver->name(), "systemd");
  std::string pod = driver->pod_cgroup_path("kubepods-burstable-pod12.slice", "sb");
  EXPECT_EQ(pod, "/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod12.slice");
  EXPECT_THROW(driver->pod_cgroup_path("/kubepods/pod12", "sb"), Error);
  EXPECT_EQ(driver->pod_cgroup_path("", "abc"), "/crisp.slice/crisp-abc.slice");
  std::string ctr = driver->container_cgroup_path(pod, "c1");
  EXPECT_EQ(ctr, pod + "/crisp-c1.scope");

  CgroupRequest pod_req{pod, {}, {}};
  pod_req.resources.memory_limit = 256 << 20;
  driver->create(pod_req);
  ASSERT_EQ(calls.size(), 1u);
  EXPECT_EQ(calls[0].method, "StartTransientUnit");
  EXPECT_EQ(calls[0].unit, "kubepods-burstable-pod12.slice");
  EXPECT_EQ(std::get<uint64_t>(*find(calls[0].properties, "MemoryMax")), 256u << 20);
  EXPECT_EQ(tree.read(pod.substr(1) + "/memory.max"), std::to_string(256 << 20));

  CgroupRequest ctr_req{ctr, {}, {4242}};
  ctr_req.resources.cpu_quota = 50000;
  ctr_req.resources.cpu_period = 100000;
  driver->create(ctr_req);
  ASSERT_EQ(calls.size(), 2u);
  EXPECT_EQ(calls[1].unit, "crisp-c1.scope");
  EXPECT_EQ(std::get<std::string>(*find(calls[1].properties, "Slice")), "kubepods-burstable-pod12.slice");
  EXPECT_EQ(std::get<bool>(*find(calls[1].properties, "Delegate")), true);
  EXPECT_EQ(std::get<PidList>(*find(calls[1].properties, "PIDs")), PidList{4242});
  EXPECT_EQ(tree.read(ctr.substr(1) + "/cpu.max"), "50000 100000");
  EXPECT_EQ(driver->procs_files(ctr), std::vector<std::string>{tree.root() + ctr + "/cgroup.procs"});

  CgroupResources upd;
  upd.pids_limit = 10;
  driver->update(ctr, upd);
  ASSERT_EQ(calls.size(), 3u);
  EXPECT_EQ(calls[2].method, "SetUnitProperties");
  EXPECT_EQ(std::get<uint64_t>(*find(calls[2].properties, "TasksMax")), 10u);
  EXPECT_EQ(tree.read(ctr.substr(1) + "/pids.max"), "10");

  driver->remove(ctr);
  EXPECT_EQ(calls.back().method, "StopUnit");
  EXPECT_EQ(calls.back().unit, "crisp-c1.scope");
  EXPECT_FALSE(tree.exists(ctr.substr(1)));
}

// What crisp_runtime does for a container: create() at CreateContainer (no process yet: only the
// cgroup, with its limits, so the init joins it before exec), register_processes() once the init
// runs (the transient scope with its pid), remove() at RemoveContainer.
TEST_F(SystemdDriverTest, ContainerScopeStartsWithItsFirstProcess) {
  std::string pod = driver->pod_cgroup_path("kubepods-besteffort-pod7.slice", "sb");
  std::string ctr = driver->container_cgroup_path(pod, "c7");
  // The kernel's files of the new cgroup (the fake tree has no kernel), but no unit yet.
  tree.make(ctr.substr(1), {{"memory.max", "max"}, {"cpu.max", "max 100000"}, {"pids.max", "max"}});
  CgroupRequest req{ctr, {}, {}};
  req.resources.cpu_quota = 50000;
  req.resources.cpu_period = 100000;
  req.resources.memory_limit = 64 << 20;
  driver->create(req);
  EXPECT_TRUE(calls.empty()) << "systemd refuses empty scopes: no unit before a process runs";
  EXPECT_EQ(tree.read(ctr.substr(1) + "/cpu.max"), "50000 100000");
  EXPECT_EQ(driver->procs_files(ctr), std::vector<std::string>{tree.root() + ctr + "/cgroup.procs"});

  req.pids = {4242};
  driver->register_processes(req);
  ASSERT_EQ(calls.size(), 1u);
  EXPECT_EQ(calls[0].method, "StartTransientUnit");
  EXPECT_EQ(calls[0].unit, "crisp-c7.scope");
  EXPECT_EQ(std::get<std::string>(*find(calls[0].properties, "Slice")), "kubepods-besteffort-pod7.slice");
  EXPECT_EQ(std::get<bool>(*find(calls[0].properties, "Delegate")), true);
  EXPECT_EQ(std::get<PidList>(*find(calls[0].properties, "PIDs")), PidList{4242});
  EXPECT_EQ(std::get<uint64_t>(*find(calls[0].properties, "MemoryMax")), 64u << 20);
  EXPECT_EQ(std::get<uint64_t>(*find(calls[0].properties, "CPUQuotaPerSecUSec")), 500000u);
  // The fake systemd reset the files when it made the unit; the exact values are written again.
  EXPECT_EQ(tree.read(ctr.substr(1) + "/cpu.max"), "50000 100000");
  EXPECT_EQ(tree.read(ctr.substr(1) + "/memory.max"), std::to_string(64 << 20));

  // A slice is not a scope and a scope without pids has nothing to register.
  driver->register_processes(CgroupRequest{pod, {}, {1}});
  driver->register_processes(CgroupRequest{ctr, {}, {}});
  EXPECT_EQ(calls.size(), 1u);

  driver->remove(ctr);
  EXPECT_EQ(calls.back().method, "StopUnit");
  EXPECT_EQ(calls.back().unit, "crisp-c7.scope");
  EXPECT_FALSE(tree.exists(ctr.substr(1)));
}

TEST_F(SystemdDriverTest, CgroupfsDriversIgnoreRegisterProcesses) {
  FakeCgroupTree v2;
  v2.make("", {{"cgroup.controllers", "cpu memory pids\n"}, {"cgroup.subtree_control", ""}});
  auto fs = make_cgroupfs_v2_driver(v2.root());
  EXPECT_NO_THROW(fs->register_processes(CgroupRequest{"/crisp/sb/c1", {}, {1}}));
  EXPECT_FALSE(v2.exists("crisp"));
}

TEST(SystemdDriverFactory, HostWithoutSystemdFailsWithAClearMessage) {
  if (::access("/run/systemd/system", F_OK) == 0) GTEST_SKIP() << "this host runs systemd";
  try {
    make_cgroup_driver("systemd", "/sys/fs/cgroup");
    FAIL() << "expected kUnavailable";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kUnavailable);
    EXPECT_NE(std::string(e.what()).find("not booted with systemd"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("cgroupfs"), std::string::npos) << e.what();
  }
}

TEST_F(SystemdDriverTest, ExistingUnitIsUpdated) {
  std::string pod = driver->pod_cgroup_path("kubepods.slice", "sb");
  driver->create(CgroupRequest{pod, {}, {}});
  CgroupRequest again{pod, {}, {}};
  again.resources.pids_limit = 5;
  EXPECT_NO_THROW(driver->create(again));
  EXPECT_EQ(tree.read("kubepods.slice/pids.max"), "5");
}

TEST_F(SystemdDriverTest, BadInputStartsNoUnit) {
  CgroupRequest req{"/kubepods.slice", {}, {}};
  req.resources.cpu_shares = 1;
  EXPECT_THROW(driver->create(req), Error);
  EXPECT_TRUE(calls.empty());
  EXPECT_THROW(driver->create(CgroupRequest{"/kubepods/pod1", {}, {}}), Error);
  EXPECT_TRUE(calls.empty());
}

}  // namespace
}  // namespace crisp::cgroups
