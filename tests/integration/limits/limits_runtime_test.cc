// Issue 5 through the container engine (root; busybox rootfs on overlay, real cgroup v1): the
// truth read from inside (/proc/self/status, the log) and outside (/proc/<pid>/status, cgroup
// files). Every cgroup is removed with its container and sandbox (checked in each test).
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "runtime/base/error.h"
#include "runtime/base/file_util.h"
#include "runtime/cgroups/cgroup_driver.h"
#include "runtime/security/capabilities.h"
#include "tests/integration/runtime/runtime_fixture.h"

namespace crisp::runtime::test {
namespace {

using namespace std::chrono_literals;

std::string read_text(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  std::string s = ss.str();
  while (!s.empty() && s.back() == '\n') s.pop_back();
  return s;
}

// "CapEff" -> value from a /proc/<pid>/status text.
uint64_t status_mask(const std::string& status, const std::string& key) {
  std::istringstream in(status);
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(key + ":", 0) == 0) return std::stoull(line.substr(key.size() + 1), nullptr, 16);
  }
  ADD_FAILURE() << key << " not in status";
  return ~uint64_t{0};
}
std::string status_field(const std::string& status, const std::string& key) {
  std::istringstream in(status);
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(key + ":", 0) == 0) {
      std::string v = line.substr(key.size() + 1);
      v.erase(0, v.find_first_not_of(" \t"));
      return v;
    }
  }
  return "";
}

constexpr uint64_t kDefaultCaps = 0x00000000a80425fbull;

class LimitsTest : public RuntimeTest {
 protected:
  // The fixture removes every sandbox; then no cgroup of this test may remain (else it is killed
  // and removed here, and the test fails).
  void TearDown() override {
    std::vector<std::string> paths;
    if (runtime_) {
      for (const auto& c : runtime_->list_containers({})) paths.push_back(c.cgroup_path);
      for (const auto& s : runtime_->list_sandboxes({})) paths.push_back(s.cgroup_path);
    }
    RuntimeTest::TearDown();
    auto driver = cgroups::make_cgroupfs_v1_driver();
    for (const auto& path : paths) {
      if (path.empty() || !driver->exists(path)) continue;
      ADD_FAILURE() << "cgroup " << path << " left behind";
      for (pid_t pid : driver->pids(path)) ::kill(pid, SIGKILL);
      try {
        driver->remove(path, std::chrono::seconds(3));
      } catch (const std::exception& e) {
        ADD_FAILURE() << e.what();
      }
    }
  }
  // Runs command in a new container of pod, waits for the exit and returns the stdout+stderr.
  std::string run(const std::string& pod, ContainerConfig config, ContainerInfo* info_out = nullptr) {
    auto id = create_and_start(pod, config);
    auto info = wait_exited(id);
    if (info_out) *info_out = info;
    return log_text(read_cri_log(info.log_path));
  }
  std::string status_inside(const std::string& pod, ContainerConfig config) {
    config.command = {"cat", "/proc/self/status"};
    return run(pod, config);
  }
  static std::string memory_dir(const std::string& cgroup_path) { return "/sys/fs/cgroup/memory" + cgroup_path; }
};

TEST_F(LimitsTest, DefaultCapabilitiesInsideAndOutside) {
  auto pod = runtime_->run_sandbox(sandbox_config("caps-default"));
  std::string inside = status_inside(pod, container_config("in", {}));
  EXPECT_EQ(status_mask(inside, "CapEff"), kDefaultCaps);
  EXPECT_EQ(status_mask(inside, "CapBnd"), kDefaultCaps);
  EXPECT_EQ(status_mask(inside, "CapPrm"), kDefaultCaps);
  EXPECT_EQ(status_mask(inside, "CapInh"), 0u);
  EXPECT_EQ(status_mask(inside, "CapAmb"), 0u);

  auto id = create_and_start(pod, container_config("out", {"sleep", "1000"}));
  pid_t pid = runtime_->container_status(id).pid;
  ASSERT_GT(pid, 0);
  std::string outside = read_text("/proc/" + std::to_string(pid) + "/status");
  EXPECT_EQ(status_mask(outside, "CapEff"), kDefaultCaps);
  EXPECT_EQ(status_mask(outside, "CapBnd"), kDefaultCaps);
}

TEST_F(LimitsTest, AddDropAndAll) {
  auto pod = runtime_->run_sandbox(sandbox_config("caps-add-drop"));
  auto c = container_config("a", {});
  c.security.add_capabilities = {"NET_ADMIN", "cap_sys_time"};
  c.security.drop_capabilities = {"CHOWN", "KILL"};
  uint64_t want = (kDefaultCaps | (1ull << 12) | (1ull << 25)) & ~(1ull << 0) & ~(1ull << 5);
  std::string s = status_inside(pod, c);
  EXPECT_EQ(status_mask(s, "CapEff"), want);
  EXPECT_EQ(status_mask(s, "CapBnd"), want);

  auto none = container_config("none", {});
  none.security.drop_capabilities = {"ALL"};
  s = status_inside(pod, none);
  EXPECT_EQ(status_mask(s, "CapEff"), 0u);
  EXPECT_EQ(status_mask(s, "CapBnd"), 0u);

  auto all_but = container_config("all", {});
  all_but.security.add_capabilities = {"ALL"};
  all_but.security.drop_capabilities = {"SYS_ADMIN"};
  s = status_inside(pod, all_but);
  EXPECT_EQ(status_mask(s, "CapBnd"), security::all_capabilities_mask() & ~(1ull << 21));
}

TEST_F(LimitsTest, UnknownCapabilityFailsCreateAndLeavesNothing) {
  auto pod = runtime_->run_sandbox(sandbox_config("caps-bad"));
  auto c = container_config("bad", {"true"});
  c.security.add_capabilities = {"FLY_TO_THE_MOON"};
  try {
    create(pod, c);
    ADD_FAILURE() << "created";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kInvalidArgument);
    EXPECT_NE(std::string(e.what()).find("FLY_TO_THE_MOON"), std::string::npos) << e.what();
  }
  EXPECT_TRUE(runtime_->list_containers({}).empty());
}

TEST_F(LimitsTest, PrivilegedOnlyInPrivilegedSandbox) {
  auto plain = runtime_->run_sandbox(sandbox_config("priv-no"));
  auto c = container_config("p", {"true"});
  c.privileged = true;
  EXPECT_THROW(create(plain, c), Error);

  auto sc = sandbox_config("priv-yes");
  sc.privileged = true;
  auto pod = runtime_->run_sandbox(sc);
  auto p = container_config("p", {});
  p.privileged = true;
  p.security.seccomp.kind = security::SeccompChoice::Kind::kRuntimeDefault;  // ignored when privileged
  std::string s = status_inside(pod, p);
  EXPECT_EQ(status_mask(s, "CapEff"), security::all_capabilities_mask());
  EXPECT_EQ(status_mask(s, "CapBnd"), security::all_capabilities_mask());
  EXPECT_EQ(status_field(s, "Seccomp"), "0");
  // Writable /sys and host devices.
  auto w = container_config("w", {"sh", "-c", "grep ' /sys ' /proc/mounts; ls /dev/kmsg"});
  w.privileged = true;
  std::string out = run(pod, w);
  EXPECT_NE(out.find("sysfs rw"), std::string::npos) << out;
  EXPECT_NE(out.find("/dev/kmsg"), std::string::npos) << out;
}

TEST_F(LimitsTest, NonRootHasNoEffectiveCapabilitiesUnlessAmbient) {
  auto pod = runtime_->run_sandbox(sandbox_config("caps-nonroot"));
  auto c = container_config("u", {});
  c.run_as_user = 1000;
  std::string s = status_inside(pod, c);
  EXPECT_EQ(status_mask(s, "CapEff"), 0u);
  EXPECT_EQ(status_mask(s, "CapPrm"), 0u);
  EXPECT_EQ(status_mask(s, "CapBnd"), kDefaultCaps);

  auto a = container_config("amb", {});
  a.run_as_user = 1000;
  a.security.add_ambient_capabilities = {"NET_BIND_SERVICE"};
  s = status_inside(pod, a);
  EXPECT_EQ(status_mask(s, "CapEff"), 1ull << 10);
  EXPECT_EQ(status_mask(s, "CapAmb"), 1ull << 10);
}

TEST_F(LimitsTest, RuntimeDefaultSeccompBlocksUnshare) {
  auto pod = runtime_->run_sandbox(sandbox_config("seccomp"));
  // Without a filter, a user namespace needs no capability.
  auto free = container_config("free", {"unshare", "-U", "true"});
  ContainerInfo info;
  std::string out = run(pod, free, &info);
  EXPECT_EQ(info.exit_code, 0) << out;

  auto c = container_config("filtered", {"sh", "-c", "grep Seccomp: /proc/self/status; unshare -U true"});
  c.security.seccomp.kind = security::SeccompChoice::Kind::kRuntimeDefault;
  out = run(pod, c, &info);
  EXPECT_NE(info.exit_code, 0);
  EXPECT_NE(out.find("Seccomp:\t2"), std::string::npos) << out;
  EXPECT_NE(out.find("Operation not permitted"), std::string::npos) << out;
}

TEST_F(LimitsTest, LocalhostSeccompProfile) {
  auto pod = runtime_->run_sandbox(sandbox_config("seccomp-local"));
  std::string profile = dir_ + "/profile.json";
  atomic_write_file(profile, R"({"defaultAction": "SCMP_ACT_ALLOW",
      "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1}]})");
  auto c = container_config("l", {"sh", "-c", "unshare -U true && echo unshare-ok; mkdir /tmp/x"});
  c.security.seccomp = {security::SeccompChoice::Kind::kLocalhost, profile};
  ContainerInfo info;
  std::string out = run(pod, c, &info);
  EXPECT_NE(out.find("unshare-ok"), std::string::npos) << out;
  EXPECT_NE(out.find("Operation not permitted"), std::string::npos) << out;
  EXPECT_NE(info.exit_code, 0);

  auto bad = container_config("bad", {"true"});
  atomic_write_file(dir_ + "/bad.json", "{ not json");
  bad.security.seccomp = {security::SeccompChoice::Kind::kLocalhost, dir_ + "/bad.json"};
  EXPECT_THROW(create(pod, bad), Error);
  auto missing = container_config("missing", {"true"});
  missing.security.seccomp = {security::SeccompChoice::Kind::kLocalhost, dir_ + "/nope.json"};
  EXPECT_THROW(create(pod, missing), Error);
}

TEST_F(LimitsTest, LimitsInTheContainersCgroupAndLiveUpdate) {
  auto pod = runtime_->run_sandbox(sandbox_config("cg"));
  auto c = container_config("c", {"sleep", "1000"});
  c.resources.memory_limit = 64 << 20;
  c.resources.cpu_quota = 50000;
  c.resources.cpu_period = 100000;
  c.resources.cpu_shares = 256;
  c.resources.pids_limit = 50;
  auto id = create_and_start(pod, c);
  auto info = runtime_->container_status(id);
  ASSERT_FALSE(info.cgroup_path.empty());
  EXPECT_EQ(read_text(memory_dir(info.cgroup_path) + "/memory.limit_in_bytes"), std::to_string(64 << 20));
  EXPECT_EQ(read_text("/sys/fs/cgroup/cpu" + info.cgroup_path + "/cpu.cfs_quota_us"), "50000");
  EXPECT_EQ(read_text("/sys/fs/cgroup/cpu" + info.cgroup_path + "/cpu.shares"), "256");
  EXPECT_EQ(read_text("/sys/fs/cgroup/pids" + info.cgroup_path + "/pids.max"), "50");
  // The process is in it.
  std::string procs = read_text(memory_dir(info.cgroup_path) + "/cgroup.procs");
  EXPECT_NE(procs.find(std::to_string(info.pid)), std::string::npos) << procs;

  cgroups::CgroupResources update;
  update.memory_limit = 128 << 20;
  update.cpu_quota = 20000;
  runtime_->update_container_resources(id, update, std::nullopt);
  EXPECT_EQ(read_text(memory_dir(info.cgroup_path) + "/memory.limit_in_bytes"), std::to_string(128 << 20));
  EXPECT_EQ(read_text("/sys/fs/cgroup/cpu" + info.cgroup_path + "/cpu.cfs_quota_us"), "20000");
  EXPECT_EQ(runtime_->container_status(id).state, ContainerState::kRunning);

  cgroups::CgroupResources bad;
  bad.memory_limit = -42;
  EXPECT_THROW(runtime_->update_container_resources(id, bad, std::nullopt), Error);

  auto stats = runtime_->container_stats(id);
  EXPECT_GT(stats.stats.cgroup.memory_usage_bytes, 0u);
  EXPECT_EQ(stats.stats.cgroup.memory_limit_bytes, 128u << 20);
  EXPECT_GE(stats.stats.cgroup.pids_current, 1u);

  runtime_->remove_container(id);
  EXPECT_FALSE(std::filesystem::exists(memory_dir(info.cgroup_path)));
}

TEST_F(LimitsTest, CgroupAndResourcesSurviveARestart) {
  auto pod = runtime_->run_sandbox(sandbox_config("cg-restart"));
  auto c = container_config("c", {"sleep", "1000"});
  c.resources.memory_limit = 64 << 20;
  auto id = create_and_start(pod, c);
  cgroups::CgroupResources update;
  update.memory_limit = 96 << 20;
  runtime_->update_container_resources(id, update, std::nullopt);
  std::string path = runtime_->container_status(id).cgroup_path;
  restart_runtime();
  auto info = runtime_->container_status(id);
  EXPECT_EQ(info.state, ContainerState::kRunning);
  EXPECT_EQ(info.cgroup_path, path);
  EXPECT_EQ(info.config.resources.memory_limit, int64_t{96 << 20});
  EXPECT_EQ(runtime_->sandbox_status(pod).cgroup_path, "/crisp/" + pod);
  EXPECT_EQ(runtime_->container_stats(id).stats.cgroup.memory_limit_bytes, 96u << 20);
  runtime_->remove_sandbox(pod);
  EXPECT_FALSE(std::filesystem::exists(memory_dir(path)));
  EXPECT_FALSE(std::filesystem::exists(memory_dir("/crisp/" + pod)));
}

TEST_F(LimitsTest, DeviceCgroupAllowsOnlyGrantedDevices) {
  auto pod = runtime_->run_sandbox(sandbox_config("devices"));
  auto c = container_config("c", {"sh", "-c",
                                    "(: < /dev/myfuse) && echo read-ok; "
                                    "(: > /dev/myfuse) 2>/dev/null || echo write-denied; "
                                    "(: < /dev/loop-control) 2>/dev/null || echo other-denied; "
                                    "mknod /tmp/loop b 7 0 && (cat /tmp/loop > /dev/null || echo block-denied)"});
  // /dev/fuse (c 10:229) is not in the default allow-list: only the granted "r" works.
  c.devices = {{"/dev/myfuse", "/dev/fuse", "r"}, {"/dev/loop-control", "/dev/loop-control", "m"}};
  ContainerInfo info;
  std::string out = run(pod, c, &info);
  EXPECT_NE(out.find("read-ok"), std::string::npos) << out;
  EXPECT_NE(out.find("other-denied"), std::string::npos) << out;
  EXPECT_NE(out.find("write-denied"), std::string::npos) << out;
  EXPECT_NE(out.find("block-denied"), std::string::npos) << out;
  std::string allow = read_text("/sys/fs/cgroup/devices" + info.cgroup_path + "/devices.list");
  EXPECT_NE(allow.find("c 10:229 r"), std::string::npos) << allow;
  EXPECT_EQ(allow.find("a *:* rwm"), std::string::npos) << allow;

  auto bad = container_config("bad", {"true"});
  bad.devices = {{"/dev/x", "/dev/zero", "rwx"}};
  EXPECT_THROW(create(pod, bad), Error);
}

TEST_F(LimitsTest, BadLimitFailsCreateAndCreatesNoCgroup) {
  auto pod = runtime_->run_sandbox(sandbox_config("cg-bad"));
  auto c = container_config("c", {"true"});
  c.resources.memory_limit = -7;
  EXPECT_THROW(create(pod, c), Error);
  EXPECT_TRUE(runtime_->list_containers({}).empty());
}

TEST_F(LimitsTest, AllocatingPastTheLimitIsOOMKilled) {
  auto pod = runtime_->run_sandbox(sandbox_config("oom"));
  auto c = container_config("c", {"sh", "-c", "head -c 300m /dev/zero | tail"});
  c.resources.memory_limit = 32 << 20;
  c.resources.memory_swap = 32 << 20;
  auto id = create_and_start(pod, c);
  auto info = wait_exited(id, 60s);
  EXPECT_EQ(info.reason, "OOMKilled");
  EXPECT_NE(info.exit_code, 0);
}

TEST_F(LimitsTest, PidsLimitStopsAForkBomb) {
  auto pod = runtime_->run_sandbox(sandbox_config("pids"));
  auto c = container_config("c", {"sh", "-c", "for i in $(seq 1 40); do sleep 1000 & done; sleep 1000"});
  c.resources.pids_limit = 10;
  auto id = create_and_start(pod, c);
  auto info = runtime_->container_status(id);
  std::this_thread::sleep_for(500ms);
  uint64_t current = std::stoull(read_text("/sys/fs/cgroup/pids" + info.cgroup_path + "/pids.current"));
  EXPECT_LE(current, 10u);
  EXPECT_TRUE(wait_log_contains(info.log_path, "can't fork"));
  runtime_->stop_container(id, 1s);
}

TEST_F(LimitsTest, MaskedAndReadOnlyPaths) {
  auto pod = runtime_->run_sandbox(sandbox_config("mask"));
  auto c = container_config("c", {"sh", "-c",
                                    "echo timer_list=$(cat /proc/timer_list | wc -c); echo keys=$(cat /proc/keys | wc -c); "
                                    "echo firmware=$(ls /sys/firmware | wc -l); echo h > /proc/sysrq-trigger || echo sysrq-ro; "
                                    "echo 1 > /proc/sys/kernel/printk || echo sys-ro"});
  std::string out = run(pod, c);
  // The host has /proc/timer_list (9 KB) and /sys/firmware/acpi; inside both are empty.
  EXPECT_NE(out.find("timer_list=0"), std::string::npos) << out;
  EXPECT_NE(out.find("firmware=0"), std::string::npos) << out;
  EXPECT_NE(out.find("sys-ro"), std::string::npos) << out;
  EXPECT_NE(out.find("keys=0"), std::string::npos) << out;
  EXPECT_NE(out.find("sysrq-ro"), std::string::npos) << out;
}

TEST_F(LimitsTest, ReadonlyRootfsWriteFails) {
  auto pod = runtime_->run_sandbox(sandbox_config("ro"));
  auto c = container_config("c", {"sh", "-c", "touch /newfile || echo write-failed"});
  c.readonly_rootfs = true;
  std::string out = run(pod, c);
  EXPECT_NE(out.find("Read-only file system"), std::string::npos) << out;
  EXPECT_NE(out.find("write-failed"), std::string::npos) << out;
}

TEST_F(LimitsTest, SandboxStatsAndCgroupRemoval) {
  auto pod = runtime_->run_sandbox(sandbox_config("stats"));
  auto id = create_and_start(pod, container_config("c", {"sh", "-c", "i=0; while [ $i -lt 100000 ]; do i=$((i+1)); done; sleep 1000"}));
  std::this_thread::sleep_for(300ms);
  auto s1 = runtime_->container_stats(id);
  std::this_thread::sleep_for(200ms);
  auto s2 = runtime_->container_stats(id);
  EXPECT_GT(s2.stats.cgroup.cpu_usage_ns, 0u);
  EXPECT_TRUE(s2.stats.cpu_nano_cores.has_value());
  auto pod_stats = runtime_->sandbox_stats(pod);
  EXPECT_GE(pod_stats.stats.cgroup.cpu_usage_ns, s2.stats.cgroup.cpu_usage_ns);
  ASSERT_EQ(pod_stats.containers.size(), 1u);
  EXPECT_EQ(runtime_->list_container_stats({}).size(), 1u);
  std::string pod_cgroup = runtime_->sandbox_status(pod).cgroup_path;
  ASSERT_FALSE(pod_cgroup.empty());
  EXPECT_TRUE(std::filesystem::exists(memory_dir(pod_cgroup)));
  runtime_->remove_sandbox(pod);
  EXPECT_FALSE(std::filesystem::exists(memory_dir(pod_cgroup)));
}

}  // namespace
}  // namespace crisp::runtime::test
