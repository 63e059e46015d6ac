#include "network/cni_result.h"

#include <gtest/gtest.h>

#include "runtime/base/error.h"

namespace crisp::network {
namespace {

TEST(CniResult, Spec100PicksSandboxInterfaceIps) {
  auto result = nlohmann::json::parse(R"({
    "cniVersion": "1.0.0",
    "interfaces": [
      {"name": "cni0", "mac": "aa:bb:cc:dd:ee:01"},
      {"name": "veth1234", "mac": "aa:bb:cc:dd:ee:02"},
      {"name": "eth0", "mac": "aa:bb:cc:dd:ee:03", "sandbox": "/run/netns/x"}],
    "ips": [
      {"address": "fd00::5/64", "gateway": "fd00::1", "interface": 2},
      {"address": "10.244.1.5/24", "gateway": "10.244.1.1", "interface": 2},
      {"address": "10.9.9.9/24", "interface": 0}],
    "routes": [{"dst": "0.0.0.0/0"}], "dns": {}})");
  PodNetworkResult r = parse_cni_result(result, "eth0");
  EXPECT_EQ(r.ip, "10.244.1.5");
  ASSERT_EQ(r.additional_ips.size(), 1u);
  EXPECT_EQ(r.additional_ips[0], "fd00::5");
  EXPECT_EQ(r.gateway, "10.244.1.1");
}

TEST(CniResult, Spec040WithVersionFields) {
  auto result = nlohmann::json::parse(R"({
    "cniVersion": "0.4.0",
    "interfaces": [{"name": "eth0", "sandbox": "/proc/1/ns/net"}],
    "ips": [{"version": "4", "address": "10.88.0.7/16", "gateway": "10.88.0.1", "interface": 0}]})");
  PodNetworkResult r = parse_cni_result(result, "eth0");
  EXPECT_EQ(r.ip, "10.88.0.7");
  EXPECT_TRUE(r.additional_ips.empty());
}

TEST(CniResult, NoInterfacesUsesAllIps) {
  auto result = nlohmann::json::parse(R"({"cniVersion":"0.3.1","ips":[{"version":"4","address":"10.1.0.3/24"}]})");
  EXPECT_EQ(parse_cni_result(result, "eth0").ip, "10.1.0.3");
}

TEST(CniResult, Spec020) {
  auto result = nlohmann::json::parse(R"({"cniVersion":"0.2.0","ip4":{"ip":"10.2.0.4/16","gateway":"10.2.0.1"}})");
  EXPECT_EQ(parse_cni_result(result, "eth0").ip, "10.2.0.4");
}

TEST(CniResult, NoIpIsAnError) {
  EXPECT_THROW(parse_cni_result(nlohmann::json::parse(R"({"cniVersion":"1.0.0"})"), "eth0"), Error);
}

TEST(CniError, JsonErrorIsVerbatim) {
  EXPECT_EQ(cni_error_text(R"({"cniVersion":"1.0.0","code":11,"msg":"failed to allocate","details":"range full"})",
                           "ignored", 1),
            "failed to allocate: range full (code 11)");
  EXPECT_EQ(cni_error_text("", "plugin exploded\n", 2), "plugin exploded");
  EXPECT_EQ(cni_error_text("", "", 3), "exit status 3");
}

}  // namespace
}  // namespace crisp::network
