// The cgroupfs v1 driver against the host's real cgroup v1 hierarchies (root). Every cgroup the
// tests make lives under /crisp-limits-test-<random> and is removed in TearDown, pass or fail.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <fstream>
#include <sstream>
#include <thread>

#include "runtime/base/error.h"
#include "runtime/base/file_util.h"
#include "runtime/cgroups/cgroup_driver.h"
#include "runtime/cgroups/cgroup_files.h"

namespace crisp::cgroups {
namespace {

std::string read_text(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  std::string s = ss.str();
  while (!s.empty() && s.back() == '\n') s.pop_back();
  return s;
}

// Child side: join every procs file, then run fn; exits with fn's value.
pid_t spawn_in(const std::vector<std::string>& procs, int (*fn)()) {
  pid_t pid = ::fork();
  if (pid == 0) {
    std::string self = std::to_string(::getpid());
    for (const auto& f : procs) {
      FILE* out = std::fopen(f.c_str(), "w");
      if (!out || std::fputs(self.c_str(), out) < 0 || std::fclose(out) != 0) ::_exit(90);
    }
    ::_exit(fn());
  }
  return pid;
}

int wait_status(pid_t pid) {
  int status = 0;
  ::waitpid(pid, &status, 0);
  return status;
}

int allocate_200m() {
  const size_t size = 200u << 20;
  volatile char* p = static_cast<volatile char*>(std::malloc(size));
  if (!p) return 2;
  for (size_t i = 0; i < size; i += 4096) p[i] = 1;  // touch every page
  return p[size / 2] == 1 ? 0 : 3;
}


int spin_a_bit() {
  volatile uint64_t x = 0;
  for (uint64_t i = 0; i < 50000000; ++i) x = x + i;
  return 0;
}

class CgroupfsV1RealTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "needs root";
    if (detect_cgroup_version() != CgroupVersion::kV1) GTEST_SKIP() << "host is not cgroup v1";
    driver = make_cgroupfs_v1_driver();
    base = "/crisp-limits-test-" + random_hex(4);
  }
  void TearDown() override {
    if (!driver) return;
    for (const std::string& path : {base + "/pod/c1", base + "/pod", base}) {
      for (pid_t pid : driver->pids(path)) ::kill(pid, SIGKILL);
      try {
        driver->remove(path, std::chrono::milliseconds(3000));
      } catch (const std::exception& e) {
        ADD_FAILURE() << "cleanup: " << e.what();
      }
    }
    EXPECT_FALSE(path_exists("/sys/fs/cgroup/memory" + base));
  }
  std::unique_ptr<CgroupDriver> driver;
  std::string base;
};

TEST_F(CgroupfsV1RealTest, LimitsLandInTheKernelFiles) {
  std::string pod = base + "/pod";
  CgroupRequest req;
  req.path = pod + "/c1";
  req.resources.cpu_shares = 512;
  req.resources.cpu_quota = 50000;
  req.resources.cpu_period = 100000;
  req.resources.memory_limit = 64 << 20;
  req.resources.memory_swap = 64 << 20;
  req.resources.pids_limit = 32;
  driver->create(req);
  EXPECT_EQ(read_text("/sys/fs/cgroup/cpu" + req.path + "/cpu.shares"), "512");
  EXPECT_EQ(read_text("/sys/fs/cgroup/cpu" + req.path + "/cpu.cfs_quota_us"), "50000");
  EXPECT_EQ(read_text("/sys/fs/cgroup/cpu" + req.path + "/cpu.cfs_period_us"), "100000");
  EXPECT_EQ(read_text("/sys/fs/cgroup/memory" + req.path + "/memory.limit_in_bytes"), std::to_string(64 << 20));
  EXPECT_EQ(read_text("/sys/fs/cgroup/memory" + req.path + "/memory.memsw.limit_in_bytes"), std::to_string(64 << 20));
  EXPECT_EQ(read_text("/sys/fs/cgroup/pids" + req.path + "/pids.max"), "32");
  EXPECT_FALSE(read_text("/sys/fs/cgroup/cpuset" + req.path + "/cpuset.cpus").empty());

  // Live update, both directions of the memory/swap ordering.
  CgroupResources up;
  up.memory_limit = 256 << 20;
  up.memory_swap = 256 << 20;
  driver->update(req.path, up);
  EXPECT_EQ(read_text("/sys/fs/cgroup/memory" + req.path + "/memory.limit_in_bytes"), std::to_string(256 << 20));
  CgroupResources down;
  down.memory_limit = 32 << 20;
  down.memory_swap = 32 << 20;
  driver->update(req.path, down);
  EXPECT_EQ(read_text("/sys/fs/cgroup/memory" + req.path + "/memory.limit_in_bytes"), std::to_string(32 << 20));
  EXPECT_EQ(read_text("/sys/fs/cgroup/memory" + req.path + "/memory.memsw.limit_in_bytes"), std::to_string(32 << 20));
}

TEST_F(CgroupfsV1RealTest, BadInputCreatesNothing) {
  CgroupRequest req;
  req.path = base + "/pod/c1";
  req.resources.memory_limit = -3;
  EXPECT_THROW(driver->create(req), Error);
  EXPECT_FALSE(path_exists("/sys/fs/cgroup/memory" + base));
  EXPECT_FALSE(path_exists("/sys/fs/cgroup/cpu" + base));
}

TEST_F(CgroupfsV1RealTest, OomKillIsCounted) {
  CgroupRequest req;
  req.path = base + "/pod/c1";
  req.resources.memory_limit = 32 << 20;
  req.resources.memory_swap = 32 << 20;
  driver->create(req);
  EXPECT_EQ(driver->oom_kill_count(req.path), 0u);
  pid_t pid = spawn_in(driver->procs_files(req.path), allocate_200m);
  int status = wait_status(pid);
  ASSERT_TRUE(WIFSIGNALED(status)) << "status " << status;
  EXPECT_EQ(WTERMSIG(status), SIGKILL);
  EXPECT_GE(driver->oom_kill_count(req.path), 1u);
  EXPECT_GE(driver->stats(req.path).oom_kills, 1u);
}

TEST_F(CgroupfsV1RealTest, PidsLimitStopsForks) {
  CgroupRequest req;
  req.path = base + "/pod/c1";
  req.resources.pids_limit = 5;
  driver->create(req);
  pid_t pid = spawn_in(driver->procs_files(req.path), [] {
    int ok = 0;
    for (int i = 0; i < 20; ++i) {
      pid_t p = ::fork();
      if (p == 0) {
        ::pause();
        ::_exit(0);
      }
      if (p > 0) ++ok;
    }
    return ok;
  });
  int status = wait_status(pid);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 4);  // 5 tasks: the child itself + 4 forks
  for (pid_t p : driver->pids(req.path)) ::kill(p, SIGKILL);
}

TEST_F(CgroupfsV1RealTest, StatsSeeCpuAndMemory) {
  CgroupRequest req;
  req.path = base + "/pod/c1";
  req.resources.memory_limit = 128 << 20;
  driver->create(req);
  pid_t pid = spawn_in(driver->procs_files(req.path), spin_a_bit);
  ASSERT_TRUE(WIFEXITED(wait_status(pid)));
  CgroupStats s = driver->stats(req.path);
  EXPECT_GT(s.cpu_usage_ns, 1000000u);
  EXPECT_EQ(s.memory_limit_bytes, 128u << 20);
  EXPECT_EQ(s.pids_current, 0u);
  // Removal while empty works at once; the directories are gone from every hierarchy.
  driver->remove(req.path);
  EXPECT_FALSE(driver->exists(req.path));
  EXPECT_FALSE(path_exists("/sys/fs/cgroup/cpu" + req.path));
}

TEST_F(CgroupfsV1RealTest, RemoveWaitsForTasksToDrain) {
  CgroupRequest req;
  req.path = base + "/pod/c1";
  driver->create(req);
  pid_t pid = spawn_in(driver->procs_files(req.path), [] {
    ::pause();
    return 0;
  });
  for (int i = 0; i < 200 && driver->pids(req.path).empty(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  ASSERT_FALSE(driver->pids(req.path).empty());
  try {
    driver->remove(req.path, std::chrono::milliseconds(50));
    ADD_FAILURE() << "removed a cgroup with a live task";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kFailedPrecondition) << e.what();
  }
  std::thread killer([pid] {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    ::kill(pid, SIGKILL);
  });
  std::thread reaper([pid] { wait_status(pid); });
  EXPECT_NO_THROW(driver->remove(req.path, std::chrono::milliseconds(3000)));
  killer.join();
  reaper.join();
  EXPECT_FALSE(driver->exists(req.path));
}

}  // namespace
}  // namespace crisp::cgroups
