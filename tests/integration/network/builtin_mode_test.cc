// The built-in mode against real namespaces: two pods on a test-only bridge and CIDR, packets
// between them and from the host, host ports, clean teardown, failure roll-back, recovery.
#include <dirent.h>
#include <gtest/gtest.h>
#include <sys/mount.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <set>
#include <thread>
#include <chrono>
#include <cstdio>
#include <memory>

#include "network/builtin_network.h"
#include "network/ipam.h"
#include "network/ipv4.h"
#include "network/netlink.h"
#include "network/network.h"
#include "network/nft_rules.h"
#include "runtime/base/error.h"
#include "runtime/base/file_util.h"
#include "tests/integration/network/pod_netns.h"

namespace crisp::network {
namespace {

using testing::PodNetns;
using testing::TempDir;

size_t count_files(const std::string& dir) {
  size_t n = 0;
  DIR* d = ::opendir(dir.c_str());
  if (!d) return 0;
  while (dirent* e = ::readdir(d)) {
    if (e->d_name[0] != '.' && std::string(e->d_name).rfind("last_reserved_ip", 0) != 0) ++n;
  }
  ::closedir(d);
  return n;
}

class BuiltinModeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    int tag = static_cast<int>(::getpid() % 10000);
    options_.mode = NetworkMode::kBuiltin;
    options_.bridge_name = "crisptest" + std::to_string(tag);
    options_.nft_table = "crisptest" + std::to_string(tag);
    options_.pod_cidr = "10.222." + std::to_string(tag % 250) + ".0/24";
    options_.state_dir = state_.path() + "/state";
    options_.cni_conf_dir = state_.path() + "/no-cni";
    network_ = std::make_unique<PodNetwork>(options_);
    gateway_ = format_ipv4(parse_ipv4_prefix(options_.pod_cidr).first_host());
  }

  void TearDown() override {
    network_.reset();
    RouteSocket sock;
    delete_link(sock, options_.bridge_name);
    NftRules(options_.nft_table).destroy();
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

  size_t ipam_entries() { return count_files(options_.state_dir + "/ipam"); }
  std::set<std::string> nft_owners() { return NftRules(options_.nft_table).owners(); }

  TempDir state_, pins_;
  NetworkOptions options_;
  std::unique_ptr<PodNetwork> network_;
  std::string gateway_;
};

TEST_F(BuiltinModeTest, TwoPodsTalkAndTheHostReachesThem) {
  PodNetns a_ns(pins_.path(), "a"), b_ns(pins_.path(), "b");
  auto a_req = request_for("aaaa1111" + std::string(56, '0'), a_ns);
  auto b_req = request_for("bbbb2222" + std::string(56, '0'), b_ns);
  EXPECT_EQ(network_->mode(), "builtin");
  PodNetworkResult a = network_->setup(a_req);
  PodNetworkResult b = network_->setup(b_req);
  Ipv4Prefix prefix = parse_ipv4_prefix(options_.pod_cidr);
  EXPECT_TRUE(prefix.contains(parse_ipv4(a.ip)));
  EXPECT_TRUE(prefix.contains(parse_ipv4(b.ip)));
  EXPECT_NE(a.ip, b.ip);
  EXPECT_EQ(a.gateway, gateway_);
  EXPECT_TRUE(testing::link_exists(-1, "vethaaaa1111"));
  EXPECT_TRUE(testing::link_exists(a_ns.fd(), "eth0"));
  EXPECT_EQ(ipam_entries(), 2u);

  // ICMP pod -> pod and host -> pod, with busybox's ping run inside the netns.
  EXPECT_EQ(testing::busybox_in(a_ns.fd(), {"ping", "-c", "1", "-W", "2", b.ip}), 0);
  EXPECT_EQ(testing::busybox_in(-1, {"ping", "-c", "1", "-W", "2", a.ip}), 0);
  // TCP pod b -> pod a, and pod -> its gateway (the host).
  testing::serve_once(testing::listen_tcp(a_ns.fd(), 7000));
  EXPECT_EQ(testing::tcp_exchange(b_ns.fd(), a.ip, 7000), "pong:ping");
  testing::serve_once(testing::listen_tcp(-1, 7001));
  EXPECT_EQ(testing::tcp_exchange(a_ns.fd(), gateway_, 7001), "pong:ping");

  network_->check(a_req);
  network_->teardown(a_req);
  network_->teardown(b_req);
  network_->teardown(b_req);  // idempotent
  EXPECT_EQ(ipam_entries(), 0u);
  EXPECT_THROW(network_->check(a_req), Error);
}

TEST_F(BuiltinModeTest, HostPortForwardsToThePod) {
  PodNetns a_ns(pins_.path(), "a"), b_ns(pins_.path(), "b");
  auto a_req = request_for("cccc3333" + std::string(56, '1'), a_ns);
  a_req.port_mappings = {{"TCP", 8080, 18080, ""}, {"tcp", 8081, 18081, "127.0.0.1"}};
  auto b_req = request_for("dddd4444" + std::string(56, '1'), b_ns);
  network_->setup(a_req);
  network_->setup(b_req);
  EXPECT_EQ(nft_owners(), std::set<std::string>{a_req.sandbox_id});

  // From the host to a node address (the bridge's) ...
  testing::serve_once(testing::listen_tcp(a_ns.fd(), 8080));
  EXPECT_EQ(testing::tcp_exchange(-1, gateway_, 18080), "pong:ping");
  // ... from the host to localhost (route_localnet + masquerade) ...
  testing::serve_once(testing::listen_tcp(a_ns.fd(), 8080));
  EXPECT_EQ(testing::tcp_exchange(-1, "127.0.0.1", 18080), "pong:ping");
  // ... a host port bound to 127.0.0.1 only ...
  testing::serve_once(testing::listen_tcp(a_ns.fd(), 8081));
  EXPECT_EQ(testing::tcp_exchange(-1, "127.0.0.1", 18081), "pong:ping");
  EXPECT_EQ(testing::tcp_exchange(-1, gateway_, 18081, 500), "");
  // ... from another pod through the node address ...
  testing::serve_once(testing::listen_tcp(a_ns.fd(), 8080));
  EXPECT_EQ(testing::tcp_exchange(b_ns.fd(), gateway_, 18080), "pong:ping");
  // ... and the pod to its own host port (hairpin).
  {
    auto listener = testing::listen_tcp(a_ns.fd(), 8080);
    testing::serve_once(std::move(listener));
    EXPECT_EQ(testing::tcp_exchange(a_ns.fd(), gateway_, 18080), "pong:ping");
  }

  // A second pod asking for the same host port fails and leaves nothing behind.
  PodNetns c_ns(pins_.path(), "c");
  auto c_req = request_for("eeee5555" + std::string(56, '1'), c_ns);
  c_req.port_mappings = {{"tcp", 80, 18080, ""}};
  try {
    network_->setup(c_req);
    FAIL() << "duplicate host port accepted";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kAlreadyExists) << e.what();
  }
  EXPECT_EQ(ipam_entries(), 2u);
  EXPECT_FALSE(testing::link_exists(-1, "veeeee5555"));
  EXPECT_FALSE(testing::link_exists(-1, "vetheeee5555"));
  EXPECT_FALSE(testing::link_exists(c_ns.fd(), "eth0"));

  network_->teardown(a_req);
  EXPECT_TRUE(nft_owners().empty());
  testing::serve_once(testing::listen_tcp(a_ns.fd(), 8080));
  EXPECT_EQ(testing::tcp_exchange(-1, gateway_, 18080, 500), "");
  network_->teardown(b_req);
  EXPECT_EQ(ipam_entries(), 0u);
}

TEST_F(BuiltinModeTest, TeardownWithTheNetnsGoneOrKept) {
  PodNetns a_ns(pins_.path(), "a"), b_ns(pins_.path(), "b");
  auto a_req = request_for("f0f0f0f0" + std::string(56, '2'), a_ns);
  auto b_req = request_for("0a0a0a0a" + std::string(56, '2'), b_ns);
  network_->setup(a_req);
  network_->setup(b_req);
  // The runtime drops the netns; the kernel removes the host veth by itself.
  a_ns.destroy();
  network_->teardown(a_req);
  EXPECT_EQ(ipam_entries(), 1u);
  // Netns kept: teardown deletes the veth.
  network_->teardown(b_req, /*netns_going_away=*/false);
  EXPECT_FALSE(testing::link_exists(-1, "veth0a0a0a0a"));
  EXPECT_FALSE(testing::link_exists(b_ns.fd(), "eth0"));
  EXPECT_EQ(ipam_entries(), 0u);
  // The kernel's asynchronous netns cleanup removes the other one shortly.
  for (int i = 0; i < 100 && testing::link_exists(-1, "vethf0f0f0f0"); ++i) ::usleep(20000);
  EXPECT_FALSE(testing::link_exists(-1, "vethf0f0f0f0"));
}

TEST_F(BuiltinModeTest, FailedSetupLeavesNothing) {
  PodNetns a_ns(pins_.path(), "a");
  auto req = request_for("abcdef12" + std::string(56, '3'), a_ns);
  req.port_mappings = {{"icmp", 1, 2, ""}};  // rejected after the veth exists
  EXPECT_THROW(network_->setup(req), Error);
  EXPECT_EQ(ipam_entries(), 0u);
  EXPECT_FALSE(testing::link_exists(-1, "vethabcdef12"));
  EXPECT_FALSE(testing::link_exists(a_ns.fd(), "eth0"));
  EXPECT_TRUE(nft_owners().empty());
  // A missing netns fails early.
  auto gone = request_for("abcdef13" + std::string(56, '3'), a_ns);
  gone.netns_path = pins_.path() + "/missing";
  try {
    network_->setup(gone);
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kNotFound);
  }
  EXPECT_EQ(ipam_entries(), 0u);
}

TEST_F(BuiltinModeTest, RecoverReleasesDeadPods) {
  PodNetns a_ns(pins_.path(), "a"), b_ns(pins_.path(), "b");
  auto a_req = request_for("1a1a1a1a" + std::string(56, '4'), a_ns);
  auto b_req = request_for("2b2b2b2b" + std::string(56, '4'), b_ns);
  b_req.port_mappings = {{"tcp", 80, 18090, ""}};
  network_->setup(a_req);
  network_->setup(b_req);
  // crispd restarts; only pod a survived.
  network_ = std::make_unique<PodNetwork>(options_);
  network_->recover({a_req.sandbox_id});
  EXPECT_EQ(ipam_entries(), 1u);
  EXPECT_TRUE(nft_owners().empty());
  EXPECT_FALSE(testing::link_exists(-1, "veth2b2b2b2b"));
  EXPECT_TRUE(testing::link_exists(-1, "veth1a1a1a1a"));
  network_->check(a_req);
  // A leftover with no record at all (crash mid-setup): IP file and veth are still found.
  HostLocalIpam(options_.state_dir + "/ipam").allocate(parse_ipv4_prefix(options_.pod_cidr), "ghost");
  network_->recover({a_req.sandbox_id});
  EXPECT_EQ(ipam_entries(), 1u);
  network_->teardown(a_req);
}

TEST_F(BuiltinModeTest, EgressIsMasqueraded) {
  // An "outside" network: a netns behind a veth with 192.0.2.0/30; the test netns routes to it.
  PodNetns outside(pins_.path(), "outside"), a_ns(pins_.path(), "a");
  RouteSocket host;
  std::string uplink = "crisptu" + std::to_string(::getpid() % 10000);
  int uplink_index = create_veth_into_netns(host, uplink, "eth0", outside.fd(), 0, 1500);
  struct RemoveUplink {
    std::string name;
    ~RemoveUplink() {
      RouteSocket sock;
      delete_link(sock, name);
    }
  } remove_uplink{uplink};
  add_ipv4_address(host, uplink_index, parse_ipv4("192.0.2.1"), 30);
  set_link_up(host, uplink_index);
  {
    RouteSocket out = RouteSocket::in_netns(outside.fd());
    int eth0 = link_index(out, "eth0");
    add_ipv4_address(out, eth0, parse_ipv4("192.0.2.2"), 30);
    set_link_up(out, eth0);  // no route back to the pod CIDR: only masqueraded replies work
  }
  auto a_req = request_for("5e5e5e5e" + std::string(56, '6'), a_ns);
  network_->setup(a_req);
  testing::serve_peer_address_once(testing::listen_tcp(outside.fd(), 7100));
  EXPECT_EQ(testing::tcp_exchange(a_ns.fd(), "192.0.2.2", 7100), "192.0.2.1");  // not the pod IP
  network_->teardown(a_req);
}

TEST_F(BuiltinModeTest, NewPodCidrAppliesToNewPods) {
  PodNetns a_ns(pins_.path(), "a"), b_ns(pins_.path(), "b");
  auto a_req = request_for("6f6f6f6f" + std::string(56, '7'), a_ns);
  auto b_req = request_for("7a7a7a7a" + std::string(56, '7'), b_ns);
  PodNetworkResult a = network_->setup(a_req);
  std::string new_cidr = "10.221." + std::to_string(::getpid() % 250) + ".0/24";
  network_->set_pod_cidr(new_cidr);
  PodNetworkResult b = network_->setup(b_req);
  EXPECT_TRUE(parse_ipv4_prefix(new_cidr).contains(parse_ipv4(b.ip))) << b.ip;
  EXPECT_EQ(b.gateway, format_ipv4(parse_ipv4_prefix(new_cidr).first_host()));
  EXPECT_EQ(testing::busybox_in(-1, {"ping", "-c", "1", "-W", "2", b.ip}), 0);
  EXPECT_EQ(testing::busybox_in(-1, {"ping", "-c", "1", "-W", "2", a.ip}), 0);
  network_->teardown(a_req);
  network_->teardown(b_req);
  EXPECT_EQ(ipam_entries(), 0u);
}

TEST_F(BuiltinModeTest, SameIdPrefixGetsAnotherVethName) {
  PodNetns a_ns(pins_.path(), "a"), b_ns(pins_.path(), "b");
  auto a_req = request_for("abcabcab" + std::string(56, '1'), a_ns);
  auto b_req = request_for("abcabcab" + std::string(56, '2'), b_ns);
  network_->setup(a_req);
  PodNetworkResult b = network_->setup(b_req);
  EXPECT_TRUE(testing::link_exists(-1, "vethabcabcab"));
  EXPECT_TRUE(testing::link_exists(-1, BuiltinNetwork::host_veth_name(b_req.sandbox_id, 1)));
  EXPECT_EQ(testing::busybox_in(a_ns.fd(), {"ping", "-c", "1", "-W", "2", b.ip}), 0);
  network_->teardown(a_req);
  network_->teardown(b_req);
}

TEST_F(BuiltinModeTest, BridgeIsRemadeIfDeleted) {
  PodNetns a_ns(pins_.path(), "a"), b_ns(pins_.path(), "b");
  auto a_req = request_for("b0b0b0b0" + std::string(56, '8'), a_ns);
  auto b_req = request_for("c0c0c0c0" + std::string(56, '8'), b_ns);
  network_->setup(a_req);
  network_->teardown(a_req, /*netns_going_away=*/false);
  {
    RouteSocket sock;
    ASSERT_TRUE(delete_link(sock, options_.bridge_name));
  }
  PodNetworkResult b = network_->setup(b_req);
  EXPECT_EQ(testing::busybox_in(-1, {"ping", "-c", "1", "-W", "2", b.ip}), 0);
  network_->teardown(b_req);
}

TEST_F(BuiltinModeTest, ConcurrentSetupsAndTeardowns) {
  constexpr int kThreads = 6, kPerThread = 4;
  std::vector<std::unique_ptr<PodNetns>> netns;
  std::vector<PodNetworkRequest> requests;
  for (int i = 0; i < kThreads * kPerThread; ++i) {
    netns.push_back(std::make_unique<PodNetns>(pins_.path(), "c" + std::to_string(i)));
    char id[9];
    std::snprintf(id, sizeof id, "%08x", 0x20000000 + i);
    requests.push_back(request_for(std::string(id) + std::string(56, '9'), *netns.back()));
    requests.back().port_mappings = {{"tcp", 80, 21000 + i, ""}};
  }
  std::vector<std::string> ips(requests.size());
  std::atomic<int> failures{0};
  auto run = [&](auto&& body) {
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
      threads.emplace_back([&, t] {
        for (int k = 0; k < kPerThread; ++k) {
          try {
            body(t * kPerThread + k);
          } catch (const std::exception& e) {
            std::fprintf(stderr, "concurrent: %s\n", e.what());
            ++failures;
          }
        }
      });
    }
    for (auto& thread : threads) thread.join();
  };
  run([&](int i) { ips[i] = network_->setup(requests[i]).ip; });
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(std::set<std::string>(ips.begin(), ips.end()).size(), ips.size());
  EXPECT_EQ(ipam_entries(), ips.size());
  EXPECT_EQ(nft_owners().size(), ips.size());
  EXPECT_EQ(testing::busybox_in(netns[0]->fd(), {"ping", "-c", "1", "-W", "2", ips.back()}), 0);
  run([&](int i) { network_->teardown(requests[i]); });
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(ipam_entries(), 0u);
  EXPECT_TRUE(nft_owners().empty());
}

double percentile(std::vector<double> v, double p) {
  std::sort(v.begin(), v.end());
  return v[static_cast<size_t>(p * static_cast<double>(v.size() - 1))];
}

TEST_F(BuiltinModeTest, SetupAndTeardownTimings) {
  // Back to back, with every netns made before and dropped after the timed loops, so the
  // kernel's asynchronous netns clean-up does not land inside the measurements.
  // The state dir on tmpfs, as the default /run/crisp/network is on a normal host (this test
  // process has its own mount namespace; the mount goes away with it and is undone below).
  // CRISP_NETWORK_BENCH_STATE_ON_DISK=1 keeps it on the temp dir's file system instead.
  if (!std::getenv("CRISP_NETWORK_BENCH_STATE_ON_DISK")) {
    network_.reset();
    make_dirs(options_.state_dir);
    ASSERT_EQ(::mount("tmpfs", options_.state_dir.c_str(), "tmpfs", MS_NOSUID | MS_NODEV, "mode=0700"), 0);
    network_ = std::make_unique<PodNetwork>(options_);
  }
  struct UnmountState {
    std::string path;
    ~UnmountState() { ::umount2(path.c_str(), MNT_DETACH); }
  } unmount_state{options_.state_dir};
  constexpr int kPods = 40;
  std::vector<double> setup_us, teardown_us, delete_us, hostport_setup_us, hostport_teardown_us;
  {
    PodNetns ns(pins_.path(), "warm");  // the bridge and nft table are created on first use
    auto req = request_for("99999999" + std::string(56, '5'), ns);
    network_->setup(req);
    network_->teardown(req);
  }
  std::vector<std::unique_ptr<PodNetns>> netns;
  std::vector<PodNetworkRequest> requests;
  for (int i = 0; i < kPods; ++i) {
    netns.push_back(std::make_unique<PodNetns>(pins_.path(), "p" + std::to_string(i)));
    char id[9];
    std::snprintf(id, sizeof id, "%08x", 0x10000000 + i);
    requests.push_back(request_for(std::string(id) + std::string(56, '5'), *netns.back()));
  }
  auto micros = [](auto from, auto to) { return std::chrono::duration<double, std::micro>(to - from).count(); };
  for (int i = 0; i < kPods; ++i) {
    bool host_port = i % 4 == 1;  // every 4th (another one) has a host port: one nft transaction
    if (host_port) requests[i].port_mappings = {{"tcp", 80, 20000 + i, ""}};
    auto t0 = std::chrono::steady_clock::now();
    network_->setup(requests[i]);
    (host_port ? hostport_setup_us : setup_us).push_back(micros(t0, std::chrono::steady_clock::now()));
  }
  for (int i = 0; i < kPods; ++i) {
    bool going_away = i % 4 != 0;  // every 4th keeps its netns: the veth is deleted
    auto t0 = std::chrono::steady_clock::now();
    network_->teardown(requests[i], going_away);
    double us = micros(t0, std::chrono::steady_clock::now());
    (!going_away ? delete_us : i % 4 == 1 ? hostport_teardown_us : teardown_us).push_back(us);
  }
  std::printf("built-in setup: p50 %.0f us, p99 %.0f us (n=%zu)\n", percentile(setup_us, 0.5),
              percentile(setup_us, 0.99), setup_us.size());
  std::printf("built-in setup with a host port: p50 %.0f us, max %.0f us (n=%zu)\n",
              percentile(hostport_setup_us, 0.5), percentile(hostport_setup_us, 1.0),
              hostport_setup_us.size());
  std::printf("built-in teardown with a host port: p50 %.0f us, max %.0f us (n=%zu)\n",
              percentile(hostport_teardown_us, 0.5), percentile(hostport_teardown_us, 1.0),
              hostport_teardown_us.size());
  std::printf("built-in teardown (netns going away): p50 %.0f us, p99 %.0f us (n=%zu)\n",
              percentile(teardown_us, 0.5), percentile(teardown_us, 0.99), teardown_us.size());
  std::printf("built-in teardown deleting the veth: p50 %.0f us, max %.0f us (n=%zu)\n",
              percentile(delete_us, 0.5), percentile(delete_us, 1.0), delete_us.size());
  EXPECT_EQ(ipam_entries(), 0u);
}

}  // namespace
}  // namespace crisp::network
