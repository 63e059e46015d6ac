#include "network/ipv4.h"

#include <gtest/gtest.h>

#include "runtime/base/error.h"

namespace crisp::network {
namespace {

TEST(Ipv4, ParsesPrefixAndClearsHostBits) {
  Ipv4Prefix p = parse_ipv4_prefix("10.88.3.7/16");
  EXPECT_EQ(p.to_string(), "10.88.0.0/16");
  EXPECT_EQ(format_ipv4(p.first_host()), "10.88.0.1");
  EXPECT_EQ(format_ipv4(p.broadcast()), "10.88.255.255");
  EXPECT_TRUE(p.contains(parse_ipv4("10.88.200.1")));
  EXPECT_FALSE(p.contains(parse_ipv4("10.89.0.1")));
}

TEST(Ipv4, RejectsGarbage) {
  EXPECT_THROW(parse_ipv4_prefix("10.88.0.0"), Error);
  EXPECT_THROW(parse_ipv4_prefix("10.88.0.0/33"), Error);
  EXPECT_THROW(parse_ipv4_prefix("10.88.0.0/"), Error);
  EXPECT_THROW(parse_ipv4_prefix("fd00::/64"), Error);
  EXPECT_THROW(parse_ipv4("300.1.1.1"), Error);
}

}  // namespace
}  // namespace crisp::network
