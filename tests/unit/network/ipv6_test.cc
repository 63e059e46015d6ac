#include "network/ipv6.h"

#include <gtest/gtest.h>

#include "network/pod_cidrs.h"
#include "runtime/base/error.h"

namespace crisp::network {
namespace {

TEST(Ipv6, ParsesPrefixAndClearsHostBits) {
  Ipv6Prefix p = parse_ipv6_prefix("fd00:88::7/64");
  EXPECT_EQ(p.to_string(), "fd00:88::/64");
  EXPECT_EQ(format_ipv6(p.first_host()), "fd00:88::1");
  EXPECT_EQ(format_ipv6(p.last()), "fd00:88::ffff:ffff:ffff:ffff");
  EXPECT_TRUE(p.contains(parse_ipv6("fd00:88::abcd:1")));
  EXPECT_FALSE(p.contains(parse_ipv6("fd00:89::1")));
  EXPECT_EQ(format_ipv6(parse_ipv6("FD00:0088:0000::0001")), "fd00:88::1");  // canonical text
  EXPECT_EQ(parse_ipv6_prefix("::/0").mask(), Ipv6Address{0});
  EXPECT_EQ(parse_ipv6_prefix("fd00::1/128").network, parse_ipv6("fd00::1"));
}

TEST(Ipv6, RejectsGarbage) {
  EXPECT_THROW(parse_ipv6_prefix("fd00::"), Error);
  EXPECT_THROW(parse_ipv6_prefix("fd00::/129"), Error);
  EXPECT_THROW(parse_ipv6_prefix("fd00::/"), Error);
  EXPECT_THROW(parse_ipv6_prefix("10.0.0.0/8"), Error);
  EXPECT_THROW(parse_ipv6("fd00:::1"), Error);
  EXPECT_THROW(parse_ipv6("::ffff:1.2.3.4"), Error);  // no IPv4-in-IPv6 text
}

TEST(PodCidrs, SingleAndDualStackLists) {
  PodCidrs v4 = parse_pod_cidrs("10.88.0.0/16");
  ASSERT_TRUE(v4.ipv4);
  EXPECT_FALSE(v4.ipv6);
  EXPECT_FALSE(v4.ipv6_primary);

  PodCidrs dual = parse_pod_cidrs("10.88.0.0/16,fd00:88::/64");
  ASSERT_TRUE(dual.ipv4 && dual.ipv6);
  EXPECT_FALSE(dual.ipv6_primary);
  EXPECT_EQ(dual.to_string(), "10.88.0.0/16,fd00:88::/64");

  PodCidrs v6_first = parse_pod_cidrs(" fd00:88::1/64 , 10.88.1.0/16 ");
  EXPECT_TRUE(v6_first.ipv6_primary);
  EXPECT_EQ(v6_first.to_string(), "fd00:88::/64,10.88.0.0/16");
  EXPECT_FALSE(v6_first == dual);
  EXPECT_TRUE(parse_pod_cidrs("10.88.0.0/16, fd00:88::/64") == dual);

  PodCidrs v6 = parse_pod_cidrs("fd00:88::/64");
  EXPECT_FALSE(v6.ipv4);
  EXPECT_TRUE(v6.ipv6_primary);
}

TEST(PodCidrs, RejectsBadLists) {
  EXPECT_THROW(parse_pod_cidrs(""), Error);
  EXPECT_THROW(parse_pod_cidrs(" , "), Error);
  EXPECT_THROW(parse_pod_cidrs("10.1.0.0/16,10.2.0.0/16"), Error);
  EXPECT_THROW(parse_pod_cidrs("fd00:1::/64,fd00:2::/64"), Error);
  EXPECT_THROW(parse_pod_cidrs("10.1.0.0/16,nonsense"), Error);
  EXPECT_THROW(parse_pod_cidrs("fd00::/127"), Error);  // no room for a pod next to the gateway
}

}  // namespace
}  // namespace crisp::network
