#include "runtime/network_stats.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include "runtime/base/error.h"

namespace crisp::runtime {
namespace {

TEST(NetworkStats, ParsesProcNetDevWithoutLoopback) {
  const char* text =
      "Inter-|   Receive                                                |  Transmit\n"
      " face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed\n"
      "    lo:     140       2    0    0    0     0          0         0      140       2    0    0    0     0       0          0\n"
      "  eth0:    4242      31    1    2    0     0          0         0     2121      17    3    4    0     0       0          0\n"
      "veth-x: 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16\n"
      "broken: 1 2 3\n";
  auto stats = parse_proc_net_dev(text);
  ASSERT_EQ(stats.size(), 2u);
  EXPECT_EQ(stats[0].name, "eth0");
  EXPECT_EQ(stats[0].rx_bytes, 4242u);
  EXPECT_EQ(stats[0].rx_packets, 31u);
  EXPECT_EQ(stats[0].rx_errors, 1u);
  EXPECT_EQ(stats[0].rx_dropped, 2u);
  EXPECT_EQ(stats[0].tx_bytes, 2121u);
  EXPECT_EQ(stats[0].tx_packets, 17u);
  EXPECT_EQ(stats[0].tx_errors, 3u);
  EXPECT_EQ(stats[0].tx_dropped, 4u);
  EXPECT_EQ(stats[1].name, "veth-x");
  EXPECT_EQ(stats[1].tx_bytes, 9u);
  EXPECT_EQ(stats[1].tx_dropped, 12u);
}

TEST(NetworkStats, MissingNamespaceIsNotFound) {
  try {
    read_netns_interface_stats("/nonexistent/crisp-netns");
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kNotFound);
  }
}

TEST(NetworkStats, ReadsTheNamespaceOfAPath) {
  if (::geteuid() != 0) GTEST_SKIP() << "setns needs CAP_SYS_ADMIN";
  // Our own namespace, joined by the reader thread: the same interfaces /proc/self/net/dev lists.
  auto stats = read_netns_interface_stats("/proc/self/ns/net");
  for (const auto& s : stats) EXPECT_NE(s.name, "lo");
}

}  // namespace
}  // namespace crisp::runtime
