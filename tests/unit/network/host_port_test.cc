#include <gtest/gtest.h>

#include "network/builtin_network.h"
#include "network/ipv4.h"
#include "network/nft_rules.h"
#include "runtime/base/error.h"

namespace crisp::network {
namespace {

TEST(HostPortElement, AnyAddressAndSpecificAddress) {
  uint32_t pod = parse_ipv4("10.88.0.5");
  auto any = host_port_element(pod, {"TCP", 80, 8080, ""});
  EXPECT_EQ(any.map, "hostport_any");
  EXPECT_EQ(any.key, "tcp . 8080");
  EXPECT_EQ(any.value, "10.88.0.5 . 80");
  auto specific = host_port_element(pod, {"udp", 53, 5353, "127.0.0.1"});
  EXPECT_EQ(specific.map, "hostport_ip");
  EXPECT_EQ(specific.key, "127.0.0.1 . udp . 5353");
}

TEST(HostPortElement, RejectsInjectionAndBadPorts) {
  uint32_t pod = parse_ipv4("10.88.0.5");
  EXPECT_THROW(host_port_element(pod, {"tcp; flush ruleset", 80, 8080, ""}), Error);
  EXPECT_THROW(host_port_element(pod, {"tcp", 80, 70000, ""}), Error);
  EXPECT_THROW(host_port_element(pod, {"tcp", 80, 8080, "1.2.3.4 }"}), Error);
}

TEST(HostVethName, FromSandboxIdPrefix) {
  EXPECT_EQ(BuiltinNetwork::host_veth_name("0123abcdef99"), "veth0123abcd");
  std::string hashed = BuiltinNetwork::host_veth_name("not-hex-id");
  EXPECT_EQ(hashed.size(), 12u);
  EXPECT_NE(BuiltinNetwork::host_veth_name("0123abcdef99", 1), "veth0123abcd");
}

TEST(HostPortElement, Ipv6FamilyFollowsPortmap) {
  const std::string pod = "fd00:88::5";
  auto any = host_port_element(IpFamily::kIpv6, pod, {"tcp", 80, 8080, ""});
  EXPECT_EQ(any.map, "hostport_any");
  EXPECT_EQ(any.value, "fd00:88::5 . 80");
  EXPECT_EQ(host_port_element(IpFamily::kIpv6, pod, {"tcp", 80, 8080, "::"}).map, "hostport_any");
  auto specific = host_port_element(IpFamily::kIpv6, "FD00:88:0::5", {"udp", 53, 5353, "fd00:88:0::1"});
  EXPECT_EQ(specific.map, "hostport_ip");
  EXPECT_EQ(specific.key, "fd00:88::1 . udp . 5353");
  EXPECT_EQ(specific.value, "fd00:88::5 . 53");
  EXPECT_THROW(host_port_element(IpFamily::kIpv6, pod, {"tcp", 80, 8080, "fd00::1 }"}), Error);

  // Which family forwards which mapping.
  EXPECT_TRUE(host_port_applies(IpFamily::kIpv4, {"tcp", 80, 8080, ""}));
  EXPECT_TRUE(host_port_applies(IpFamily::kIpv6, {"tcp", 80, 8080, ""}));
  EXPECT_TRUE(host_port_applies(IpFamily::kIpv4, {"tcp", 80, 8080, "0.0.0.0"}));
  EXPECT_FALSE(host_port_applies(IpFamily::kIpv6, {"tcp", 80, 8080, "0.0.0.0"}));
  EXPECT_FALSE(host_port_applies(IpFamily::kIpv4, {"tcp", 80, 8080, "::"}));
  EXPECT_TRUE(host_port_applies(IpFamily::kIpv6, {"tcp", 80, 8080, "fd00::1"}));
  EXPECT_FALSE(host_port_applies(IpFamily::kIpv6, {"tcp", 80, 0, ""}));
}

}  // namespace
}  // namespace crisp::network
