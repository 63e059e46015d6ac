// The built-in mode with IPv6 pod CIDRs (dual-stack and IPv6-only) against real namespaces, on a
// test-only bridge, nft tables and ULA range (fd00:223::/32 subnets; the host's own fd00::/64 is
// never used). The test process runs in its own netns (isolation.cc).
#include <dirent.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "network/ipam.h"
#include "network/ipv4.h"
#include "network/ipv6.h"
#include "network/netlink.h"
#include "network/netns.h"
#include "network/network.h"
#include "network/nft_rules.h"
#include "runtime/base/error.h"
#include "runtime/base/file_util.h"
#include "tests/integration/network/pod_netns.h"

namespace crisp::network {
namespace {

using testing::PodNetns;
using testing::TempDir;

std::string read_sysctl(int netns_fd, const std::string& path) {
  std::string value;
  std::thread([&] {
    NetnsEntry inside(netns_fd);
    value = read_file_if_exists(path).value_or("");
  }).join();
  while (!value.empty() && value.back() == '\n') value.pop_back();
  return value;
}

class DualStackTest : public ::testing::Test {
 protected:
  void SetUp() override {
    tag_ = static_cast<int>(::getpid() % 10000);
    char v6[64];
    std::snprintf(v6, sizeof v6, "fd00:223:%x::/64", tag_);
    v4_cidr_ = "10.223." + std::to_string(tag_ % 250) + ".0/24";
    v6_cidr_ = v6;
    options_.mode = NetworkMode::kBuiltin;
    options_.bridge_name = "crisp6t" + std::to_string(tag_);
    options_.nft_table = "crisp6t" + std::to_string(tag_);
    options_.pod_cidr = v4_cidr_ + "," + v6_cidr_;
    options_.state_dir = state_.path() + "/state";
    options_.cni_conf_dir = state_.path() + "/no-cni";
    gateway4_ = format_ipv4(parse_ipv4_prefix(v4_cidr_).first_host());
    gateway6_ = format_ipv6(parse_ipv6_prefix(v6_cidr_).first_host());
  }

  void TearDown() override {
    network_.reset();
    RouteSocket sock;
    delete_link(sock, options_.bridge_name);
    NftRules(options_.nft_table, IpFamily::kIpv4).destroy();
    NftRules(options_.nft_table, IpFamily::kIpv6).destroy();
  }

  void start(const std::string& pod_cidr) {
    options_.pod_cidr = pod_cidr;
    network_ = std::make_unique<PodNetwork>(options_);
  }

  PodNetworkRequest request_for(const std::string& id, const PodNetns& netns) {
    PodNetworkRequest request;
    request.sandbox_id = id;
    request.pod_name = "pod-" + id.substr(0, 6);
    request.pod_namespace = "default";
    request.pod_uid = "uid-" + id.substr(0, 6);
    request.netns_path = netns.path();
    return request;
  }

  // IPAM allocation files (both families; hint files excluded).
  size_t ipam_entries() {
    size_t n = 0;
    DIR* d = ::opendir((options_.state_dir + "/ipam").c_str());
    if (!d) return 0;
    while (dirent* e = ::readdir(d)) {
      if (e->d_name[0] != '.' && std::string(e->d_name).rfind("last_reserved_ip", 0) != 0) ++n;
    }
    ::closedir(d);
    return n;
  }
  std::set<std::string> nft_owners(IpFamily family) { return NftRules(options_.nft_table, family).owners(); }

  int tag_ = 0;
  TempDir state_, pins_;
  std::string v4_cidr_, v6_cidr_, gateway4_, gateway6_;
  NetworkOptions options_;
  std::unique_ptr<PodNetwork> network_;
};

TEST_F(DualStackTest, PodsGetBothFamiliesAndTalkOverIpv6) {
  start(v4_cidr_ + "," + v6_cidr_);
  PodNetns a_ns(pins_.path(), "a"), b_ns(pins_.path(), "b");
  auto a_req = request_for("a6a61111" + std::string(56, '0'), a_ns);
  auto b_req = request_for("b6b62222" + std::string(56, '0'), b_ns);
  PodNetworkResult a = network_->setup(a_req);
  PodNetworkResult b = network_->setup(b_req);
  // The IPv4 CIDR came first: it gives the primary IP.
  EXPECT_TRUE(parse_ipv4_prefix(v4_cidr_).contains(parse_ipv4(a.ip))) << a.ip;
  ASSERT_EQ(a.additional_ips.size(), 1u);
  ASSERT_EQ(b.additional_ips.size(), 1u);
  std::string a6 = a.additional_ips[0], b6 = b.additional_ips[0];
  EXPECT_TRUE(parse_ipv6_prefix(v6_cidr_).contains(parse_ipv6(a6))) << a6;
  EXPECT_NE(a6, b6);
  EXPECT_NE(a6, gateway6_);
  EXPECT_EQ(a.gateway, gateway4_);
  EXPECT_EQ(ipam_entries(), 4u);
  EXPECT_EQ(read_sysctl(a_ns.fd(), "/proc/sys/net/ipv6/conf/eth0/accept_dad"), "0");
  EXPECT_EQ(read_file_if_exists("/proc/sys/net/ipv6/conf/all/forwarding").value_or(""), "1\n");

  // TCP over IPv6 right after setup (no DAD wait): pod b -> pod a, pod -> gateway, host -> pod.
  testing::serve_once(testing::listen_tcp(a_ns.fd(), 7000));
  EXPECT_EQ(testing::tcp_exchange(b_ns.fd(), a6, 7000), "pong:ping");
  testing::serve_once(testing::listen_tcp(-1, 7001));
  EXPECT_EQ(testing::tcp_exchange(a_ns.fd(), gateway6_, 7001), "pong:ping");
  testing::serve_once(testing::listen_tcp(a_ns.fd(), 7002));
  EXPECT_EQ(testing::tcp_exchange(-1, a6, 7002), "pong:ping");
  // ICMPv6 and IPv4 too.
  EXPECT_EQ(testing::busybox_in(b_ns.fd(), {"ping", "-c", "1", "-W", "2", a6}), 0);
  EXPECT_EQ(testing::busybox_in(b_ns.fd(), {"ping", "-c", "1", "-W", "2", a.ip}), 0);

  network_->check(a_req);
  network_->teardown(a_req);
  network_->teardown(b_req);
  EXPECT_EQ(ipam_entries(), 0u);
  EXPECT_THROW(network_->check(a_req), Error);
}

TEST_F(DualStackTest, HostPortsForwardInBothFamilies) {
  start(v4_cidr_ + "," + v6_cidr_);
  PodNetns a_ns(pins_.path(), "a"), b_ns(pins_.path(), "b");
  auto a_req = request_for("c6c63333" + std::string(56, '1'), a_ns);
  // Empty host IP: both families; "::": IPv6 only; "0.0.0.0": IPv4 only; a v6 host IP: only there.
  a_req.port_mappings = {{"tcp", 8080, 18080, ""},
                         {"tcp", 8081, 18081, "::"},
                         {"tcp", 8082, 18082, "0.0.0.0"},
                         {"tcp", 8083, 18083, gateway6_}};
  auto b_req = request_for("d6d64444" + std::string(56, '1'), b_ns);
  network_->setup(a_req);
  network_->setup(b_req);
  EXPECT_EQ(nft_owners(IpFamily::kIpv4), std::set<std::string>{a_req.sandbox_id});
  EXPECT_EQ(nft_owners(IpFamily::kIpv6), std::set<std::string>{a_req.sandbox_id});

  auto via = [&](int netns_fd, const std::string& ip, int host_port, int container_port, int timeout_ms = 2000) {
    testing::serve_once(testing::listen_tcp(a_ns.fd(), container_port));
    std::string answer = testing::tcp_exchange(netns_fd, ip, host_port, timeout_ms);
    // Let the listener thread give the port back when nothing connected.
    if (answer.empty()) testing::tcp_exchange(a_ns.fd(), "127.0.0.1", container_port, 200);
    return answer;
  };
  EXPECT_EQ(via(-1, gateway6_, 18080, 8080), "pong:ping") << "host -> [bridge v6]:18080";
  EXPECT_EQ(via(-1, gateway4_, 18080, 8080), "pong:ping") << "host -> bridge v4:18080";
  EXPECT_EQ(via(-1, gateway6_, 18081, 8081), "pong:ping") << "host -> [bridge v6]:18081 (::)";
  EXPECT_EQ(via(-1, gateway4_, 18081, 8081, 500), "") << ":: is IPv6 only";
  EXPECT_EQ(via(-1, gateway4_, 18082, 8082), "pong:ping") << "0.0.0.0";
  EXPECT_EQ(via(-1, gateway6_, 18082, 8082, 500), "") << "0.0.0.0 is IPv4 only";
  EXPECT_EQ(via(-1, gateway6_, 18083, 8083), "pong:ping") << "v6 host IP";
  // Another pod through the node's IPv6 address, and the pod to itself (hairpin).
  EXPECT_EQ(via(b_ns.fd(), gateway6_, 18080, 8080), "pong:ping") << "pod b -> [bridge v6]:18080";
  EXPECT_EQ(via(a_ns.fd(), gateway6_, 18080, 8080), "pong:ping") << "hairpin over IPv6";

  network_->teardown(a_req);
  EXPECT_TRUE(nft_owners(IpFamily::kIpv4).empty());
  EXPECT_TRUE(nft_owners(IpFamily::kIpv6).empty());
  EXPECT_EQ(via(-1, gateway6_, 18080, 8080, 500), "");
  network_->teardown(b_req);
  EXPECT_EQ(ipam_entries(), 0u);
}

TEST_F(DualStackTest, OrderOfTheListPicksThePrimaryAndIpv6OnlyWorks) {
  start(v6_cidr_ + "," + v4_cidr_);
  PodNetns a_ns(pins_.path(), "a"), b_ns(pins_.path(), "b");
  auto a_req = request_for("e6e65555" + std::string(56, '2'), a_ns);
  PodNetworkResult a = network_->setup(a_req);
  EXPECT_TRUE(parse_ipv6_prefix(v6_cidr_).contains(parse_ipv6(a.ip))) << a.ip;
  ASSERT_EQ(a.additional_ips.size(), 1u);
  EXPECT_TRUE(parse_ipv4_prefix(v4_cidr_).contains(parse_ipv4(a.additional_ips[0])));
  EXPECT_EQ(a.gateway, gateway6_);
  network_->teardown(a_req);

  // IPv6 only (a crispd restart with another setting).
  start(v6_cidr_);
  auto b_req = request_for("f6f66666" + std::string(56, '2'), b_ns);
  b_req.port_mappings = {{"tcp", 8090, 18090, ""}, {"tcp", 8091, 18091, "127.0.0.1"}};
  PodNetworkResult b = network_->setup(b_req);
  EXPECT_TRUE(parse_ipv6_prefix(v6_cidr_).contains(parse_ipv6(b.ip))) << b.ip;
  EXPECT_TRUE(b.additional_ips.empty());
  EXPECT_EQ(ipam_entries(), 1u);
  EXPECT_TRUE(nft_owners(IpFamily::kIpv4).empty());  // the IPv4 mapping has no IPv4 pod address
  EXPECT_EQ(nft_owners(IpFamily::kIpv6), std::set<std::string>{b_req.sandbox_id});
  testing::serve_once(testing::listen_tcp(b_ns.fd(), 7010));
  EXPECT_EQ(testing::tcp_exchange(-1, b.ip, 7010), "pong:ping");
  testing::serve_once(testing::listen_tcp(b_ns.fd(), 8090));
  EXPECT_EQ(testing::tcp_exchange(-1, gateway6_, 18090), "pong:ping");
  network_->check(b_req);
  network_->teardown(b_req);
  EXPECT_EQ(ipam_entries(), 0u);
  EXPECT_TRUE(nft_owners(IpFamily::kIpv6).empty());
}

TEST_F(DualStackTest, Ipv6EgressIsMasqueraded) {
  start(v4_cidr_ + "," + v6_cidr_);
  // An "outside" network: a netns behind a veth with fd00:224:<tag>::/64; no route back to pods.
  PodNetns outside(pins_.path(), "outside"), a_ns(pins_.path(), "a");
  char outside_net[64];
  std::snprintf(outside_net, sizeof outside_net, "fd00:224:%x::", tag_);
  Ipv6Address uplink_ip = parse_ipv6(std::string(outside_net) + "1");
  Ipv6Address outside_ip = parse_ipv6(std::string(outside_net) + "2");
  RouteSocket host;
  std::string uplink = "crisp6u" + std::to_string(tag_);
  int uplink_index = create_veth_into_netns(host, uplink, "eth0", outside.fd(), 0, 1500);
  struct RemoveUplink {
    std::string name;
    ~RemoveUplink() {
      RouteSocket sock;
      delete_link(sock, name);
    }
  } remove_uplink{uplink};
  set_link_up(host, uplink_index);
  add_ipv6_address(host, uplink_index, uplink_ip, 64);
  {
    RouteSocket out = RouteSocket::in_netns(outside.fd());
    int eth0 = link_index(out, "eth0");
    set_link_up(out, eth0);
    add_ipv6_address(out, eth0, outside_ip, 64);
  }
  auto a_req = request_for("a7a77777" + std::string(56, '3'), a_ns);
  network_->setup(a_req);
  testing::serve_peer_address_once(testing::listen_tcp(outside.fd(), 7100));
  EXPECT_EQ(testing::tcp_exchange(a_ns.fd(), format_ipv6(outside_ip), 7100, 3000), format_ipv6(uplink_ip));
  network_->teardown(a_req);
}

TEST_F(DualStackTest, RecoverReleasesIpv6OfDeadPods) {
  start(v4_cidr_ + "," + v6_cidr_);
  PodNetns a_ns(pins_.path(), "a"), b_ns(pins_.path(), "b");
  auto a_req = request_for("1c1c1c1c" + std::string(56, '4'), a_ns);
  auto b_req = request_for("2d2d2d2d" + std::string(56, '4'), b_ns);
  b_req.port_mappings = {{"tcp", 80, 18095, ""}};
  PodNetworkResult a = network_->setup(a_req);
  network_->setup(b_req);
  EXPECT_EQ(ipam_entries(), 4u);
  // crispd restarts; only pod a survived. A crash mid-setup also left an IPv6 file with no record.
  start(v4_cidr_ + "," + v6_cidr_);
  HostLocalIpam(options_.state_dir + "/ipam").allocate(parse_ipv6_prefix(v6_cidr_), "ghost");
  network_->recover({a_req.sandbox_id});
  EXPECT_EQ(ipam_entries(), 2u);
  EXPECT_TRUE(nft_owners(IpFamily::kIpv6).empty());
  EXPECT_TRUE(nft_owners(IpFamily::kIpv4).empty());
  EXPECT_FALSE(testing::link_exists(-1, "veth2d2d2d2d"));
  network_->check(a_req);
  // The surviving pod's IPv6 address is never handed out again while it lives.
  PodNetns c_ns(pins_.path(), "c");
  auto c_req = request_for("3e3e3e3e" + std::string(56, '4'), c_ns);
  PodNetworkResult c = network_->setup(c_req);
  EXPECT_NE(c.additional_ips.at(0), a.additional_ips.at(0));
  network_->teardown(a_req);
  network_->teardown(c_req);
  EXPECT_EQ(ipam_entries(), 0u);
}

TEST_F(DualStackTest, NewPodCidrListAppliesToNewPods) {
  start(v4_cidr_);
  PodNetns a_ns(pins_.path(), "a"), b_ns(pins_.path(), "b");
  auto a_req = request_for("4f4f4f4f" + std::string(56, '5'), a_ns);
  auto b_req = request_for("5a5a5a5a" + std::string(56, '5'), b_ns);
  PodNetworkResult a = network_->setup(a_req);
  EXPECT_TRUE(a.additional_ips.empty());
  network_->set_pod_cidr(v4_cidr_ + ", " + v6_cidr_);  // the kubelet's list (spaces tolerated)
  PodNetworkResult b = network_->setup(b_req);
  ASSERT_EQ(b.additional_ips.size(), 1u);
  EXPECT_TRUE(parse_ipv6_prefix(v6_cidr_).contains(parse_ipv6(b.additional_ips[0])));
  EXPECT_EQ(testing::busybox_in(-1, {"ping", "-c", "1", "-W", "2", b.additional_ips[0]}), 0);
  EXPECT_EQ(testing::busybox_in(-1, {"ping", "-c", "1", "-W", "2", a.ip}), 0);
  EXPECT_THROW(network_->set_pod_cidr("10.1.0.0/16,10.2.0.0/16"), Error);
  network_->teardown(a_req);
  network_->teardown(b_req);
  EXPECT_EQ(ipam_entries(), 0u);
}

TEST_F(DualStackTest, SetupCutShortByACrashIsReleased) {
  // What a crispd killed in the middle of a setup leaves: IPs of both families and a host port,
  // but no record (saved last). The pod itself may live on (the runtime still lists it).
  start(v4_cidr_ + "," + v6_cidr_);
  PodNetns a_ns(pins_.path(), "a");
  auto a_req = request_for("7e7e7e7e" + std::string(56, '6'), a_ns);
  network_->setup(a_req);  // a pod whose setup finished: kept
  const std::string cut_live = "8f8f8f8f" + std::string(56, '6');
  const std::string cut_dead = "9a9a9a9a" + std::string(56, '6');
  for (const auto& [id, host_port] : {std::pair{cut_live, 18101}, std::pair{cut_dead, 18102}}) {
    HostLocalIpam ipam(options_.state_dir + "/ipam");
    uint32_t ip = ipam.allocate(parse_ipv4_prefix(v4_cidr_), id);
    Ipv6Address ip6 = ipam.allocate(parse_ipv6_prefix(v6_cidr_), id);
    NftRules(options_.nft_table, IpFamily::kIpv4).add_host_ports(id, format_ipv4(ip), {{"tcp", 80, host_port, ""}});
    NftRules(options_.nft_table, IpFamily::kIpv6).add_host_ports(id, format_ipv6(ip6), {{"tcp", 80, host_port, ""}});
  }
  EXPECT_EQ(ipam_entries(), 6u);
  EXPECT_EQ(nft_owners(IpFamily::kIpv6).size(), 2u);
  // Restart: the cut-short setup of the live pod is released too; the finished one is kept.
  start(v4_cidr_ + "," + v6_cidr_);
  network_->recover({a_req.sandbox_id, cut_live});
  EXPECT_EQ(ipam_entries(), 2u);
  EXPECT_TRUE(nft_owners(IpFamily::kIpv4).empty());
  EXPECT_TRUE(nft_owners(IpFamily::kIpv6).empty());
  network_->check(a_req);
  // Its StopPodSandbox later has nothing left to do.
  PodNetns x_ns(pins_.path(), "x");
  network_->teardown(request_for(cut_live, x_ns));
  network_->teardown(a_req);
  EXPECT_EQ(ipam_entries(), 0u);
}

TEST_F(DualStackTest, SetupTimings) {
  // Dual-stack setup/teardown back to back (state dir on the temp dir's file system; compare with
  // BuiltinModeTest.SetupAndTeardownTimings under CRISP_NETWORK_BENCH_STATE_ON_DISK=1).
  start(v4_cidr_ + "," + v6_cidr_);
  constexpr int kPods = 20;
  std::vector<std::unique_ptr<PodNetns>> netns;
  std::vector<PodNetworkRequest> requests;
  for (int i = 0; i <= kPods; ++i) {
    netns.push_back(std::make_unique<PodNetns>(pins_.path(), "t" + std::to_string(i)));
    char id[9];
    std::snprintf(id, sizeof id, "%08x", 0x30000000 + i);
    requests.push_back(request_for(std::string(id) + std::string(56, '7'), *netns.back()));
  }
  network_->setup(requests[kPods]);  // warm-up: bridge, addresses, nft tables
  std::vector<double> setup_us;
  for (int i = 0; i < kPods; ++i) {
    auto t0 = std::chrono::steady_clock::now();
    network_->setup(requests[i]);
    setup_us.push_back(std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - t0).count());
  }
  for (auto& r : requests) network_->teardown(r);
  std::sort(setup_us.begin(), setup_us.end());
  std::printf("dual-stack setup: p50 %.0f us, max %.0f us (n=%d)\n", setup_us[kPods / 2], setup_us.back(), kPods);
  EXPECT_EQ(ipam_entries(), 0u);
}

}  // namespace
}  // namespace crisp::network
