// CNI mode through a real crispd (--network-mode cni) with Debian's containernetworking-plugins
// (/usr/lib/cni): a bridge + host-local + portmap + loopback conflist and a kindnet-like ptp +
// host-local + portmap one. Pods reach each other and the node, a host port reaches a pod,
// PodSandboxStatus shows the IP, and after stop/remove no veth, host-local reservation, netns pin
// or per-pod iptables chain is left. NetworkReady follows the conf dir while crispd runs; a broken
// config or a missing plugin fails RunPodSandbox with the plugin's message and leaves nothing.
//
// Runs in a netns of its own (private_netns.cc): bridge, veths, portmap's iptables chains and
// sysctls exist only there; TearDown removes them anyway.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <string>

#include "runtime/base/file_util.h"
#include "tests/integration/network_e2e/crispd_pods.h"

namespace crisp::test {
namespace {

namespace v1 = ::runtime::v1;
using namespace std::chrono_literals;

bool in_cidr(const std::string& ip, const std::string& cidr) {
  in_addr a{}, n{};
  if (::inet_pton(AF_INET, ip.c_str(), &a) != 1) return false;
  if (::inet_pton(AF_INET, cidr.substr(0, cidr.find('/')).c_str(), &n) != 1) return false;
  int length = std::stoi(cidr.substr(cidr.find('/') + 1));
  uint32_t mask = length == 0 ? 0 : ~uint32_t{0} << (32 - length);
  return (ntohl(a.s_addr) & mask) == (ntohl(n.s_addr) & mask);
}

// Chains CNI plugins make per pod in the nat table: portmap's CNI-DN-<hash>, the bridge/ptp
// plugins' ipMasq CNI-<hash> (the shared CNI-HOSTPORT-* chains stay, as with containerd).
int per_pod_cni_chains() {
  std::string rules = shell("iptables -t nat -S 2>/dev/null");
  return count_lines_with(rules, "-N CNI-") - count_lines_with(rules, "-N CNI-HOSTPORT-");
}

class CniCrispdTest : public CrispdPodsTest {
 protected:
  void SetUp() override {
    CrispdPodsTest::SetUp();
    if (IsSkipped()) return;
    char pattern[] = "/tmp/crisp-cni-e2e-XXXXXX";
    ASSERT_NE(::mkdtemp(pattern), nullptr);
    dir_ = pattern;
    conf_dir_ = dir_ + "/net.d";
    ipam_dir_ = dir_ + "/cni-ipam";
    make_dirs(conf_dir_);
    tag_ = static_cast<int>(::getpid() % 250);
    bridge_ = "cnie2e" + std::to_string(::getpid() % 100000);
    bridge_subnet_ = "10.235." + std::to_string(tag_) + ".0/24";
    ptp_subnet_ = "10.236." + std::to_string(tag_) + ".0/24";
  }

  void TearDown() override {
    CrispdPodsTest::TearDown();  // pods, then crispd
    if (dir_.empty()) return;
    shell("ip link del " + bridge_ + " 2>/dev/null");
    // Only this test's netns: portmap's shared chains and anything a failed test left.
    shell("iptables -t nat -F 2>/dev/null; iptables -t nat -X 2>/dev/null");
    try {
      remove_tree(dir_);
    } catch (...) {
    }
  }

  void start_cni_crispd() {
    CrispdOptions options;
    options.args = {"--network-mode", "cni", "--cni-conf-dir", conf_dir_, "--cni-bin-dir", "/usr/lib/cni"};
    start_crispd(options);
  }

  std::string bridge_conflist(const std::string& subnet) const {
    return R"({"cniVersion":"1.0.0","name":"crisp-e2e-bridge","plugins":[
      {"type":"bridge","bridge":")" + bridge_ + R"(","isGateway":true,"ipMasq":true,"hairpinMode":true,
       "ipam":{"type":"host-local","dataDir":")" + ipam_dir_ + R"(","ranges":[[{"subnet":")" + subnet +
           R"("}]],"routes":[{"dst":"0.0.0.0/0"}]}},
      {"type":"portmap","capabilities":{"portMappings":true}},
      {"type":"loopback"}]})";
  }

  std::string ptp_conflist() const {  // kindnet's, with this test's subnet and dataDir
    return R"({"cniVersion":"0.3.1","name":"kindnet","plugins":[
      {"type":"ptp","ipMasq":false,"ipam":{"type":"host-local","dataDir":")" + ipam_dir_ +
           R"(","routes":[{"dst":"0.0.0.0/0"}],"ranges":[[{"subnet":")" + ptp_subnet_ + R"("}]]},"mtu":1500},
      {"type":"portmap","capabilities":{"portMappings":true}}]})";
  }

  std::string first_host(const std::string& cidr) const {
    std::string network = cidr.substr(0, cidr.find('/'));
    return network.substr(0, network.rfind('.')) + ".1";
  }

  v1::RuntimeCondition network_ready() {
    v1::StatusResponse resp;
    auto ctx = client_context();
    auto status = crispd_->runtime().Status(ctx.get(), {}, &resp);
    EXPECT_TRUE(status.ok()) << status.error_message();
    for (const auto& c : resp.status().conditions()) {
      if (c.type() == "NetworkReady") return c;
    }
    ADD_FAILURE() << "no NetworkReady condition";
    return {};
  }

  // Everything per pod is gone: veths, host-local reservations, netns pins, per-pod chains.
  void expect_nothing_left(const std::string& when) {
    EXPECT_EQ(settle([] { return veth_links().size(); }, size_t{0}), 0u) << when;
    EXPECT_TRUE(ip_files_under(ipam_dir_).empty()) << when << ": " << ip_files_under(ipam_dir_).size()
                                                     << " host-local reservations left";
    EXPECT_EQ(nsfs_mounts_under(crispd_->dir()), 0) << when;
    EXPECT_EQ(per_pod_cni_chains(), 0) << when << ":\n" << shell("iptables -t nat -S");
    EXPECT_TRUE(ip_files_under(crispd_->state() + "/network").empty()) << when;
    EXPECT_TRUE(list_pods().empty()) << when;
  }

  // The common scenario for a working conflist.
  void two_pods_node_and_host_port(const std::string& subnet) {
    start_cni_crispd();
    EXPECT_TRUE(network_ready().status()) << network_ready().message();
    NodeServer node;
    const int host_port = free_tcp_port();
    ASSERT_GT(host_port, 0);
    std::string pod_a = runp("cni-a", {8080, host_port, ""});
    std::string pod_b = runp("cni-b");
    ASSERT_FALSE(pod_a.empty());
    ASSERT_FALSE(pod_b.empty());
    std::string ip_a = pod_status(pod_a).network().ip();
    std::string ip_b = pod_status(pod_b).network().ip();
    EXPECT_TRUE(in_cidr(ip_a, subnet)) << ip_a << " not in " << subnet;
    EXPECT_TRUE(in_cidr(ip_b, subnet)) << ip_b << " not in " << subnet;
    EXPECT_NE(ip_a, ip_b);
    // What the checks after removal look for is there now (so they can see it).
    EXPECT_EQ(ip_files_under(ipam_dir_).size(), 2u);
    EXPECT_EQ(veth_links().size(), 2u);
    EXPECT_GE(nsfs_mounts_under(crispd_->dir()), 2);
    EXPECT_GE(per_pod_cni_chains(), 1) << shell("iptables -t nat -S");

    serve_hello(pod_a, 8080);
    std::string client = sleeper(pod_b);
    EXPECT_EQ(nc_from(client, ip_a, 8080), "hello\n") << "pod b -> pod a by pod IP";
    const std::string node_ip = first_host(subnet);
    EXPECT_EQ(nc_from(client, node_ip, node.port()), "node\n") << "pod b -> node " << node_ip;
    EXPECT_EQ(tcp_exchange_retry(node_ip, host_port), "hello\n") << "node " << node_ip << ":" << host_port;
    EXPECT_EQ(tcp_exchange_retry("127.0.0.1", host_port), "hello\n") << "127.0.0.1:" << host_port;

    remove_pod(pod_a);
    remove_pod(pod_b);
    expect_nothing_left("after stop/remove");
    EXPECT_EQ(tcp_exchange(node_ip, host_port, 500), "") << "host port still forwarded";
  }

  std::string dir_, conf_dir_, ipam_dir_, bridge_, bridge_subnet_, ptp_subnet_;
  int tag_ = 0;
};

TEST_F(CniCrispdTest, BridgeHostLocalPortmapLoopback) {
  atomic_write_file(conf_dir_ + "/10-bridge.conflist", bridge_conflist(bridge_subnet_));
  two_pods_node_and_host_port(bridge_subnet_);
}

TEST_F(CniCrispdTest, KindnetLikePtp) {
  atomic_write_file(conf_dir_ + "/10-kindnet.conflist", ptp_conflist());
  two_pods_node_and_host_port(ptp_subnet_);
}

TEST_F(CniCrispdTest, NetworkReadyFlipsWhenAConflistIsWritten) {
  start_cni_crispd();
  v1::RuntimeCondition before = network_ready();
  EXPECT_FALSE(before.status());
  EXPECT_EQ(before.reason(), "NetworkPluginNotReady");
  // Pods cannot start meanwhile, and leave nothing.
  std::string id;
  grpc::Status refused = try_runp("too-early", {}, &id);
  EXPECT_FALSE(refused.ok());
  EXPECT_TRUE(list_pods().empty());

  atomic_write_file(conf_dir_ + "/10-bridge.conflist", bridge_conflist(bridge_subnet_));
  auto begin = std::chrono::steady_clock::now();
  bool ready = settle([&] { return network_ready().status(); }, true);
  auto took = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - begin);
  EXPECT_TRUE(ready) << network_ready().message();
  std::printf("[   INFO   ] NetworkReady true %lld ms after the conflist was written\n",
              static_cast<long long>(took.count()));
  std::string pod = runp("in-time");
  EXPECT_TRUE(in_cidr(pod_status(pod).network().ip(), bridge_subnet_));
  remove_pod(pod);

  // And back to not ready when it goes.
  ::unlink((conf_dir_ + "/10-bridge.conflist").c_str());
  EXPECT_FALSE(settle([&] { return network_ready().status(); }, false));
  expect_nothing_left("after the pod");
}

TEST_F(CniCrispdTest, BrokenConflistFailsRunPodSandboxAndLeavesNothing) {
  start_cni_crispd();
  // Not JSON at all: not ready, and RunPodSandbox says why.
  atomic_write_file(conf_dir_ + "/10-broken.conflist", "{\"cniVersion\": \"1.0.0\", \"name\": ");
  EXPECT_FALSE(settle([&] { return network_ready().status(); }, false));
  std::string id;
  grpc::Status status = try_runp("broken-json", {}, &id);
  EXPECT_FALSE(status.ok());
  EXPECT_NE(status.error_message().find("10-broken.conflist"), std::string::npos) << status.error_message();
  expect_nothing_left("after an unparsable conflist");

  // Valid JSON the bridge plugin refuses: its message comes back through the RPC.
  atomic_write_file(conf_dir_ + "/10-broken.conflist", bridge_conflist("not-a-subnet"));
  EXPECT_TRUE(settle([&] { return network_ready().status(); }, true));
  status = try_runp("broken-subnet", {}, &id);
  EXPECT_FALSE(status.ok());
  EXPECT_NE(status.error_message().find("CNI plugin bridge failed (ADD)"), std::string::npos)
      << status.error_message();
  EXPECT_NE(status.error_message().find("not-a-subnet"), std::string::npos) << status.error_message();
  std::printf("[   INFO   ] RunPodSandbox: %s\n", status.error_message().c_str());
  expect_nothing_left("after the bridge plugin failed");
}

TEST_F(CniCrispdTest, MissingPluginFailsRunPodSandboxAndLeavesNothing) {
  // bridge (ADD succeeds: veth + host-local reservation) then a plugin that does not exist: the
  // chain is rolled back with DEL.
  atomic_write_file(conf_dir_ + "/10-missing.conflist",
                    R"({"cniVersion":"1.0.0","name":"missing-plugin","plugins":[
    {"type":"bridge","bridge":")" + bridge_ + R"(","isGateway":true,"ipam":{"type":"host-local","dataDir":")" +
                        ipam_dir_ + R"(","ranges":[[{"subnet":")" + bridge_subnet_ + R"("}]]}},
    {"type":"no-such-plugin"}]})");
  start_cni_crispd();
  EXPECT_TRUE(network_ready().status());
  std::string id;
  grpc::Status status = try_runp("missing", {}, &id);
  EXPECT_FALSE(status.ok());
  EXPECT_NE(status.error_message().find("no-such-plugin"), std::string::npos) << status.error_message();
  std::printf("[   INFO   ] RunPodSandbox: %s\n", status.error_message().c_str());
  expect_nothing_left("after the missing plugin");
}

}  // namespace
}  // namespace crisp::test
