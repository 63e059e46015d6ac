#include "network/ipam.h"

#include <gtest/gtest.h>

#include <mutex>
#include <set>
#include <thread>

#include "runtime/base/error.h"
#include "tests/unit/network/temp_dir.h"

namespace crisp::network {
namespace {

using testing::TempDir;

TEST(HostLocalIpam, AllocatesAfterTheGateway) {
  TempDir dir;
  HostLocalIpam ipam(dir.path());
  Ipv4Prefix prefix = parse_ipv4_prefix("10.222.0.0/24");
  EXPECT_EQ(format_ipv4(ipam.allocate(prefix, "a")), "10.222.0.2");
  EXPECT_EQ(format_ipv4(ipam.allocate(prefix, "b")), "10.222.0.3");
  EXPECT_EQ(ipam.owner(parse_ipv4("10.222.0.2")), "a");
  EXPECT_EQ(ipam.owner(parse_ipv4("10.222.0.9")), "");
}

TEST(HostLocalIpam, ReleaseOnlyByOwnerAndRoundRobin) {
  TempDir dir;
  HostLocalIpam ipam(dir.path());
  Ipv4Prefix prefix = parse_ipv4_prefix("10.222.0.0/24");
  uint32_t a = ipam.allocate(prefix, "a");
  EXPECT_FALSE(ipam.release(a, "b"));
  EXPECT_TRUE(ipam.release(a, "a"));
  EXPECT_FALSE(ipam.release(a, "a"));
  // Not reused at once: the next allocation continues after the last one.
  EXPECT_NE(ipam.allocate(prefix, "c"), a);
}

TEST(HostLocalIpam, ExhaustsSmallRangeWithoutDuplicates) {
  TempDir dir;
  HostLocalIpam ipam(dir.path());
  Ipv4Prefix prefix = parse_ipv4_prefix("10.222.0.0/29");  // .2 .. .6 usable
  std::set<uint32_t> seen;
  for (int i = 0; i < 5; ++i) EXPECT_TRUE(seen.insert(ipam.allocate(prefix, "p" + std::to_string(i))).second);
  try {
    ipam.allocate(prefix, "x");
    FAIL() << "expected exhaustion";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kResourceExhausted);
  }
  ipam.release(*seen.begin(), "p0");
  EXPECT_EQ(ipam.allocate(prefix, "y"), *seen.begin());
}

TEST(HostLocalIpam, PersistsAcrossInstances) {
  TempDir dir;
  Ipv4Prefix prefix = parse_ipv4_prefix("10.222.0.0/29");
  std::set<uint32_t> first;
  {
    HostLocalIpam ipam(dir.path());
    for (int i = 0; i < 3; ++i) first.insert(ipam.allocate(prefix, "old" + std::to_string(i)));
  }
  HostLocalIpam restarted(dir.path());
  EXPECT_EQ(restarted.allocations().size(), 3u);
  for (int i = 0; i < 2; ++i) EXPECT_FALSE(first.count(restarted.allocate(prefix, "new" + std::to_string(i))));
  EXPECT_EQ(restarted.release_owner("old1"), 1);
  EXPECT_EQ(restarted.allocations().size(), 4u);
}

TEST(HostLocalIpam, ConcurrentInstancesNeverShareAnAddress) {
  TempDir dir;
  Ipv4Prefix prefix = parse_ipv4_prefix("10.222.0.0/24");
  // Two instances on one directory model two processes; O_EXCL is what keeps them apart.
  HostLocalIpam a(dir.path()), b(dir.path());
  std::mutex m;
  std::set<uint32_t> seen;
  int duplicates = 0;
  auto worker = [&](HostLocalIpam& ipam, int base) {
    for (int i = 0; i < 60; ++i) {
      uint32_t ip = ipam.allocate(prefix, "s" + std::to_string(base + i));
      std::lock_guard lock(m);
      if (!seen.insert(ip).second) ++duplicates;
    }
  };
  std::thread t1(worker, std::ref(a), 0), t2(worker, std::ref(b), 100), t3(worker, std::ref(a), 200);
  t1.join();
  t2.join();
  t3.join();
  EXPECT_EQ(duplicates, 0);
  EXPECT_EQ(seen.size(), 180u);
  EXPECT_EQ(a.allocations().size(), 180u);
}

TEST(HostLocalIpamIpv6, AllocatesAfterTheGatewayRoundRobin) {
  TempDir dir;
  HostLocalIpam ipam(dir.path());
  Ipv6Prefix prefix = parse_ipv6_prefix("fd00:222::/64");
  Ipv6Address a = ipam.allocate(prefix, "a");
  EXPECT_EQ(format_ipv6(a), "fd00:222::2");
  EXPECT_EQ(format_ipv6(ipam.allocate(prefix, "b")), "fd00:222::3");
  EXPECT_EQ(ipam.ipv6_owner(a), "a");
  EXPECT_FALSE(ipam.release_ipv6(a, "b"));
  EXPECT_TRUE(ipam.release_ipv6(a, "a"));
  EXPECT_NE(ipam.allocate(prefix, "c"), a);  // round-robin: not reused at once
  EXPECT_EQ(ipam.ipv6_allocations().size(), 2u);
  EXPECT_TRUE(ipam.allocations().empty());  // IPv4 listing ignores IPv6 files
}

TEST(HostLocalIpamIpv6, ExhaustsSmallRangeWithoutDuplicates) {
  TempDir dir;
  HostLocalIpam ipam(dir.path());
  Ipv6Prefix prefix = parse_ipv6_prefix("fd00:222::/125");  // 8 addresses: 6 for pods
  std::set<Ipv6Address> seen;
  for (int i = 0; i < 6; ++i) EXPECT_TRUE(seen.insert(ipam.allocate(prefix, "p" + std::to_string(i))).second);
  try {
    ipam.allocate(prefix, "x");
    FAIL() << "allocated beyond the range";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kResourceExhausted);
  }
  EXPECT_EQ(format_ipv6(*seen.rbegin()), "fd00:222::7");
}

TEST(HostLocalIpamIpv6, PersistsAcrossInstancesNextToIpv4) {
  TempDir dir;
  Ipv4Prefix v4 = parse_ipv4_prefix("10.222.0.0/24");
  Ipv6Prefix v6 = parse_ipv6_prefix("fd00:222::/64");
  std::set<Ipv6Address> first;
  {
    HostLocalIpam ipam(dir.path());
    for (int i = 0; i < 3; ++i) {
      ipam.allocate(v4, "old" + std::to_string(i));
      first.insert(ipam.allocate(v6, "old" + std::to_string(i)));
    }
  }
  HostLocalIpam restarted(dir.path());
  EXPECT_EQ(restarted.ipv6_allocations().size(), 3u);
  EXPECT_EQ(restarted.allocations().size(), 3u);
  for (int i = 0; i < 3; ++i) EXPECT_FALSE(first.count(restarted.allocate(v6, "new" + std::to_string(i))));
  EXPECT_EQ(restarted.release_owner("old1"), 2);  // both families
  EXPECT_EQ(restarted.ipv6_allocations().size(), 5u);
  EXPECT_EQ(restarted.allocations().size(), 2u);
}

TEST(HostLocalIpamIpv6, ConcurrentInstancesNeverShareAnAddress) {
  TempDir dir;
  Ipv6Prefix prefix = parse_ipv6_prefix("fd00:222::/120");
  HostLocalIpam a(dir.path()), b(dir.path());
  std::mutex m;
  std::set<Ipv6Address> seen;
  int duplicates = 0;
  auto worker = [&](HostLocalIpam& ipam, int base) {
    for (int i = 0; i < 60; ++i) {
      Ipv6Address ip = ipam.allocate(prefix, "s" + std::to_string(base + i));
      std::lock_guard lock(m);
      if (!seen.insert(ip).second) ++duplicates;
    }
  };
  std::thread t1(worker, std::ref(a), 0), t2(worker, std::ref(b), 100), t3(worker, std::ref(a), 200);
  t1.join();
  t2.join();
  t3.join();
  EXPECT_EQ(duplicates, 0);
  EXPECT_EQ(a.ipv6_allocations().size(), 180u);
}

}  // namespace
}  // namespace crisp::network
