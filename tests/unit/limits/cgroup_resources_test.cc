#include "runtime/cgroups/cgroup_resources.h"

#include <gtest/gtest.h>

#include <limits>

#include "runtime/base/error.h"

namespace crisp::cgroups {
namespace {

TEST(CgroupResources, SharesToWeightMatchesRunc) {
  EXPECT_EQ(cpu_shares_to_weight(0), 0u);
  EXPECT_EQ(cpu_shares_to_weight(2), 1u);
  EXPECT_EQ(cpu_shares_to_weight(262144), 10000u);
  EXPECT_EQ(cpu_shares_to_weight(1024), 39u);  // 1 + 1022*9999/262142
  EXPECT_EQ(cpu_shares_to_weight(102), 4u);
}

TEST(CgroupResources, CpuMax) {
  EXPECT_EQ(cpu_max_value(std::nullopt, std::nullopt), "");
  EXPECT_EQ(cpu_max_value(50000, 100000), "50000 100000");
  EXPECT_EQ(cpu_max_value(-1, 100000), "max 100000");
  EXPECT_EQ(cpu_max_value(-1, std::nullopt), "max");
  EXPECT_EQ(cpu_max_value(20000, std::nullopt), "20000");
  EXPECT_EQ(cpu_max_value(std::nullopt, 50000), "max 50000");
}

TEST(CgroupResources, SwapV2MatchesRunc) {
  EXPECT_EQ(memory_swap_v2_value(-1, std::nullopt), "max");
  EXPECT_EQ(memory_swap_v2_value(100, -1), "max");
  EXPECT_EQ(memory_swap_v2_value(100, std::nullopt), std::nullopt);
  EXPECT_EQ(memory_swap_v2_value(100, 300), "200");
  EXPECT_EQ(memory_swap_v2_value(100, 100), "0");
  EXPECT_THROW(memory_swap_v2_value(std::nullopt, 300), Error);
  EXPECT_THROW(memory_swap_v2_value(300, 100), Error);
}

TEST(CgroupResources, LimitValue) {
  EXPECT_EQ(limit_value(-1), "max");
  EXPECT_EQ(limit_value(42), "42");
}

TEST(CgroupResources, HugepageSizes) {
  EXPECT_EQ(hugepage_size_bytes("2MB"), 2u << 20);
  EXPECT_EQ(hugepage_size_bytes("1GB"), 1u << 30);
  EXPECT_EQ(hugepage_size_bytes("64KB"), 64u << 10);
  EXPECT_THROW(hugepage_size_bytes("2M"), Error);
  EXPECT_THROW(hugepage_size_bytes("MB"), Error);
  EXPECT_THROW(hugepage_size_bytes("2TB"), Error);
}

void expect_invalid(const CgroupResources& r) {
  try {
    validate_resources(r);
    ADD_FAILURE() << "accepted";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kInvalidArgument) << e.what();
  }
}

TEST(CgroupResources, ValidationRejectsBadValues) {
  CgroupResources ok;
  ok.cpu_shares = 1024;
  ok.cpu_quota = 50000;
  ok.cpu_period = 100000;
  ok.memory_limit = 64 << 20;
  ok.memory_swap = 128 << 20;
  ok.pids_limit = 100;
  ok.cpuset_cpus = "0-1,3";
  ok.hugepage_limits = {{"2MB", 0}};
  EXPECT_NO_THROW(validate_resources(ok));

  CgroupResources r;
  r.memory_limit = -5;
  expect_invalid(r);
  r = {};
  r.memory_limit = std::numeric_limits<int64_t>::max();
  expect_invalid(r);
  r = {};
  r.cpu_shares = 1;
  expect_invalid(r);
  r = {};
  r.cpu_shares = 1000000;
  expect_invalid(r);
  r = {};
  r.cpu_quota = -2;
  expect_invalid(r);
  r = {};
  r.cpu_quota = 10;
  expect_invalid(r);
  r = {};
  r.cpu_period = 10;
  expect_invalid(r);
  r = {};
  r.pids_limit = -7;
  expect_invalid(r);
  r = {};
  r.cpuset_cpus = "0-";
  expect_invalid(r);
  r = {};
  r.cpuset_mems = "a";
  expect_invalid(r);
  r = {};
  r.memory_swap = 100 << 20;  // swap without memory
  expect_invalid(r);
  r = {};
  r.memory_limit = 200 << 20;
  r.memory_swap = 100 << 20;  // below memory
  expect_invalid(r);
  r = {};
  r.unified = {{"../../etc", "x"}};
  expect_invalid(r);
  r = {};
  r.unified = {{"cgroup.procs", "1"}};
  expect_invalid(r);
  r = {};
  r.unified = {{"memory.high", "1\n2"}};
  expect_invalid(r);
  r = {};
  r.hugepage_limits = {{"huge", 1}};
  expect_invalid(r);
  r = {};
  r.devices = {{true, 'x', 1, 3, "rwm"}};
  expect_invalid(r);
  r = {};
  r.devices = {{true, 'c', 1, 3, "rwx"}};
  expect_invalid(r);
}

TEST(CgroupResources, UnlimitedValuesAreValid) {
  CgroupResources r;
  r.memory_limit = -1;
  r.memory_swap = -1;
  r.cpu_quota = -1;
  r.pids_limit = -1;
  EXPECT_NO_THROW(validate_resources(r));
  EXPECT_FALSE(r.empty());
  EXPECT_TRUE(CgroupResources{}.empty());
}

}  // namespace
}  // namespace crisp::cgroups

#include "runtime/cgroups/cpu_rate.h"

namespace crisp::cgroups {
namespace {

TEST(CpuRate, NanoCoresBetweenSamples) {
  CpuRateTracker t;
  EXPECT_EQ(t.sample("c", 1'000'000'000, 10'000'000'000), std::nullopt);
  // 0.5 s of CPU in 1 s of wall time = half a core.
  EXPECT_EQ(t.sample("c", 1'500'000'000, 11'000'000'000), 500'000'000u);
  EXPECT_EQ(t.sample("c", 1'500'000'000, 11'000'000'000), std::nullopt);  // no time passed
  t.forget("c");
  EXPECT_EQ(t.sample("c", 2'000'000'000, 12'000'000'000), std::nullopt);
}

}  // namespace
}  // namespace crisp::cgroups
