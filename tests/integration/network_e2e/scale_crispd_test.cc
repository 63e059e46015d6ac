// The built-in network through a real crispd under load and crashes, and dual-stack:
//  - 100 pods run and removed in batches leave the fixture's bridge, netns pins, IPAM and nft
//    table exactly as before;
//  - crispd SIGKILLed while RunPodSandbox calls are in flight, restarted: IPAM holds exactly the
//    addresses of the pods crispd still lists, and removing those brings everything back to the
//    baseline;
//  - dual-stack pods (UpdateRuntimeConfig with the kubelet's "v4,v6" list) reach each other and
//    the node over IPv4 and IPv6, host ports forward over both, and the list's order picks the
//    primary IP.
// Runs in a netns of its own (private_netns.cc); addresses: the fixture's 10.234.x.0/24 and
// fd00:234:<x>::/64 (ULA).
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "tests/integration/network_e2e/crispd_pods.h"

namespace crisp::test {
namespace {

namespace v1 = ::runtime::v1;
using namespace std::chrono_literals;

long long ms_since(std::chrono::steady_clock::time_point begin) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - begin).count();
}

// What pod networking leaves on the node, for the fixture's bridge, state dir and nft table.
struct NodeCounts {
  size_t veths = 0;          // links on the bridge
  int netns_pins = 0;        // nsfs mounts under the fixture's dir
  size_t ipam_files = 0;     // IPAM reservations
  int nft_elements = 0;      // host-port map elements (both families)
  int nft_lines = 0;         // lines of the table listings without elements: rules, sets, chains
  bool operator==(const NodeCounts&) const = default;
};

std::ostream& operator<<(std::ostream& out, const NodeCounts& c) {
  return out << "{veths " << c.veths << ", netns pins " << c.netns_pins << ", IPAM files " << c.ipam_files
             << ", nft elements " << c.nft_elements << ", nft lines " << c.nft_lines << "}";
}

class ScaleCrispdTest : public CrispdPodsTest {
 protected:
  void TearDown() override {
    std::string table = crispd_ ? crispd_->nft_table() : "";
    CrispdPodsTest::TearDown();
    // The fixture removes the bridge and `ip <table>`; the IPv6 twin is this test's to remove.
    if (!table.empty()) shell("nft delete table ip6 " + table + " 2>/dev/null");
  }

  NodeCounts counts() {
    NodeCounts c;
    c.veths = links_on_bridge(crispd_->bridge()).size();
    c.netns_pins = nsfs_mounts_under(crispd_->dir());
    c.ipam_files = ip_files_under(crispd_->state() + "/network").size();
    std::string listing = nft_table_listing("ip " + crispd_->nft_table()) +
                          nft_table_listing("ip6 " + crispd_->nft_table());
    c.nft_elements = count_occurrences(listing, "comment \"");
    c.nft_lines = count_lines_with(listing, "") - count_lines_with(listing, "comment \"");
    return c;
  }

  // The counts with no pod left, once the warm-up pod's veth is gone (asynchronous netns clean-up).
  NodeCounts baseline_counts() {
    settle([&] { return links_on_bridge(crispd_->bridge()).size(); }, size_t{0}, 10s);
    return counts();
  }

  // The counts once the kernel's asynchronous netns clean-up removed the veths (up to 10 s).
  NodeCounts settled_counts(const NodeCounts& want) {
    auto begin = std::chrono::steady_clock::now();
    NodeCounts c = settle([&] { return counts(); }, want, 10s);
    std::printf("[   INFO   ] settled in %lld ms\n", ms_since(begin));
    return c;
  }

  // The IPv4/IPv6 addresses PodSandboxStatus reports for each pod crispd lists.
  std::set<std::string> listed_pod_ips(int* ready_without_ip = nullptr) {
    std::set<std::string> ips;
    for (const auto& pod : list_pods()) {
      auto status = pod_status(pod.id());
      if (!status.network().ip().empty()) ips.insert(status.network().ip());
      for (const auto& extra : status.network().additional_ips()) ips.insert(extra.ip());
      if (ready_without_ip && status.state() == v1::SANDBOX_READY && status.network().ip().empty()) {
        ++*ready_without_ip;
      }
    }
    return ips;
  }

  std::set<std::string> ipam_ips() {
    auto files = ip_files_under(crispd_->state() + "/network");
    return {files.begin(), files.end()};
  }
};

TEST_F(ScaleCrispdTest, HundredPodsInBatchesLeaveNothing) {
  start_crispd();
  remove_pod(runp("warm-up", {80, free_tcp_port(), ""}));  // bridge and nft table exist from here
  const NodeCounts baseline = baseline_counts();
  std::printf("[   INFO   ] baseline %s\n", ::testing::PrintToString(baseline).c_str());
  EXPECT_EQ(baseline.veths, 0u);
  EXPECT_EQ(baseline.ipam_files, 0u);
  EXPECT_EQ(baseline.nft_elements, 0);

  constexpr int kBatches = 5, kPerBatch = 20, kHostPortEvery = 5;
  auto begin = std::chrono::steady_clock::now();
  long long run_ms = 0, remove_ms = 0;
  int base_port = free_tcp_port();
  for (int batch = 0; batch < kBatches; ++batch) {
    std::vector<std::string> pods;
    auto t0 = std::chrono::steady_clock::now();
    for (int i = 0; i < kPerBatch; ++i) {
      PodSpec spec;
      if (i % kHostPortEvery == 0) spec = {80, 20000 + (base_port + batch * kPerBatch + i) % 40000, ""};
      pods.push_back(runp("many-" + std::to_string(batch) + "-" + std::to_string(i), spec));
    }
    run_ms += ms_since(t0);
    NodeCounts during = counts();
    EXPECT_EQ(during.veths, baseline.veths + kPerBatch) << "batch " << batch;
    EXPECT_GE(during.netns_pins, baseline.netns_pins + kPerBatch) << "batch " << batch;
    EXPECT_EQ(during.ipam_files, baseline.ipam_files + kPerBatch) << "batch " << batch;
    EXPECT_EQ(during.nft_elements, baseline.nft_elements + kPerBatch / kHostPortEvery) << "batch " << batch;
    EXPECT_EQ(listed_pod_ips().size(), static_cast<size_t>(kPerBatch)) << "distinct IPs, batch " << batch;
    auto t1 = std::chrono::steady_clock::now();
    for (const auto& pod : pods) remove_pod(pod);
    remove_ms += ms_since(t1);
  }
  std::printf("[   INFO   ] %d pods: run %lld ms (%.1f ms/pod), stop+remove %lld ms (%.1f ms/pod), total %lld ms\n",
              kBatches * kPerBatch, run_ms, static_cast<double>(run_ms) / (kBatches * kPerBatch), remove_ms,
              static_cast<double>(remove_ms) / (kBatches * kPerBatch), ms_since(begin));
  EXPECT_EQ(settled_counts(baseline), baseline);
}

TEST_F(ScaleCrispdTest, SigkillWithRunPodSandboxInFlight) {
  start_crispd();
  remove_pod(runp("warm-up", {80, free_tcp_port(), ""}));
  const NodeCounts baseline = baseline_counts();

  std::vector<std::string> live = {runp("live-0", {80, free_tcp_port(), ""}), runp("live-1"), runp("live-2")};
  const int kRounds = 3;
  const std::chrono::milliseconds delays[kRounds] = {40ms, 110ms, 230ms};
  int interrupted_total = 0, completed_total = 0, ready_without_ip_total = 0;
  for (int round = 0; round < kRounds; ++round) {
    // RunPodSandbox back to back from another thread; SIGKILL lands in one of them.
    std::atomic<bool> stop{false};
    std::atomic<int> completed{0}, failed{0};
    std::thread runner([&] {
      for (int i = 0; !stop; ++i) {
        std::string id;
        grpc::Status status = try_runp("inflight-" + std::to_string(round) + "-" + std::to_string(i), {}, &id);
        (status.ok() ? completed : failed)++;
        if (!status.ok()) break;  // crispd is gone
      }
    });
    std::this_thread::sleep_for(delays[round]);
    auto t0 = std::chrono::steady_clock::now();
    crispd_->kill9();
    stop = true;
    runner.join();
    auto t1 = std::chrono::steady_clock::now();
    crispd_->start();
    std::printf("[   INFO   ] round %d: kill9 + in-flight RPC failing %lld ms, restart %lld ms\n", round,
                static_cast<long long>(std::chrono::duration_cast<std::chrono::milliseconds>(t1 - t0).count()),
                ms_since(t1));
    completed_total += completed;
    interrupted_total += failed;

    // IPAM holds exactly the addresses of the pods crispd lists (recover released the rest).
    int ready_without_ip = 0;
    std::set<std::string> listed = listed_pod_ips(&ready_without_ip);
    ready_without_ip_total += ready_without_ip;
    EXPECT_EQ(ipam_ips(), listed) << "round " << round;
    EXPECT_EQ(counts().nft_elements, 1) << "round " << round << ": only live-0's host port";
    std::printf("[   INFO   ] round %d: %d RunPodSandbox completed, %d cut by SIGKILL; %zu pods listed after the "
                "restart (%d ready without an IP)\n",
                round, completed.load(), failed.load(), list_pods().size(), ready_without_ip);
    // The live pods kept their network.
    for (const auto& pod : live) EXPECT_FALSE(pod_status(pod).network().ip().empty()) << pod;
    // Remove what is listed, except the live pods (until the last round).
    for (const auto& pod : list_pods()) {
      if (std::find(live.begin(), live.end(), pod.id()) == live.end()) remove_pod(pod.id());
    }
    EXPECT_EQ(ipam_ips().size(), live.size()) << "round " << round;
  }
  EXPECT_GE(interrupted_total, 1) << "no RunPodSandbox was in flight at a SIGKILL";
  for (const auto& pod : live) remove_pod(pod);
  EXPECT_TRUE(list_pods().empty());
  EXPECT_EQ(settled_counts(baseline), baseline);
}

TEST_F(ScaleCrispdTest, DualStackPodsReachEachOtherAndTheNode) {
  start_crispd();
  const std::string v4_cidr = crispd_->pod_cidr();
  const std::string third = v4_cidr.substr(7, v4_cidr.find(".0/") - 7);  // "10.234.<x>.0/24"
  const std::string v6_cidr = "fd00:234:" + third + "::/64";
  const std::string node4 = v4_cidr.substr(0, v4_cidr.find(".0/")) + ".1";
  const std::string node6 = "fd00:234:" + third + "::1";

  auto update_pod_cidr = [&](const std::string& cidr) {
    v1::UpdateRuntimeConfigRequest req;
    req.mutable_runtime_config()->mutable_network_config()->set_pod_cidr(cidr);
    v1::UpdateRuntimeConfigResponse resp;
    auto ctx = client_context();
    return crispd_->runtime().UpdateRuntimeConfig(ctx.get(), req, &resp);
  };
  // The kubelet's dual-stack list; a list with two IPv4 ranges is refused.
  grpc::Status bad = update_pod_cidr("10.1.0.0/16,10.2.0.0/16");
  EXPECT_EQ(bad.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << bad.error_message();
  grpc::Status updated = update_pod_cidr(v4_cidr + "," + v6_cidr);
  ASSERT_TRUE(updated.ok()) << updated.error_message();

  const int host_port = free_tcp_port();
  std::string pod_a = runp("dual-a", {8080, host_port, ""});
  std::string pod_b = runp("dual-b");
  auto net_a = pod_status(pod_a).network();
  auto net_b = pod_status(pod_b).network();
  ASSERT_EQ(net_a.additional_ips_size(), 1);
  ASSERT_EQ(net_b.additional_ips_size(), 1);
  const std::string a4 = net_a.ip(), a6 = net_a.additional_ips(0).ip();
  EXPECT_EQ(a4.rfind(v4_cidr.substr(0, v4_cidr.find(".0/") + 1), 0), 0u) << a4;
  EXPECT_EQ(a6.rfind("fd00:234:" + third + "::", 0), 0u) << a6;
  EXPECT_NE(a6, net_b.additional_ips(0).ip());

  serve_hello(pod_a, 8080);
  std::string client = sleeper(pod_b);
  EXPECT_EQ(nc_from(client, a4, 8080), "hello\n") << "pod b -> pod a over IPv4";
  EXPECT_EQ(nc_from(client, a6, 8080), "hello\n") << "pod b -> pod a over IPv6";
  NodeServer node;
  EXPECT_EQ(nc_from(client, node6, node.port()), "node\n") << "pod b -> node over IPv6";
  EXPECT_EQ(nc_from(client, node4, node.port()), "node\n") << "pod b -> node over IPv4";
  EXPECT_EQ(tcp_exchange_retry(node6, host_port), "hello\n") << "[" << node6 << "]:" << host_port;
  EXPECT_EQ(tcp_exchange_retry(node4, host_port), "hello\n") << node4 << ":" << host_port;
  EXPECT_EQ(tcp_exchange_retry(a6, 8080), "hello\n") << "node -> pod a over IPv6";

  // The order of the list picks the primary IP.
  ASSERT_TRUE(update_pod_cidr(v6_cidr + "," + v4_cidr).ok());
  std::string pod_c = runp("dual-c");
  auto net_c = pod_status(pod_c).network();
  EXPECT_NE(net_c.ip().find(':'), std::string::npos) << net_c.ip();
  ASSERT_EQ(net_c.additional_ips_size(), 1);
  EXPECT_EQ(net_c.additional_ips(0).ip().find(':'), std::string::npos) << net_c.additional_ips(0).ip();

  for (const auto& pod : {pod_a, pod_b, pod_c}) remove_pod(pod);
  EXPECT_EQ(settle([&] { return links_on_bridge(crispd_->bridge()).size(); }, size_t{0}), 0u);
  EXPECT_TRUE(ipam_ips().empty()) << ipam_ips().size() << " IPAM files left";
  EXPECT_EQ(counts().nft_elements, 0);
  EXPECT_EQ(tcp_exchange(node6, host_port, 500), "");
}

TEST_F(ScaleCrispdTest, Ipv6OnlyAndDualStackFromTheFlag) {
  char v6[64];
  std::snprintf(v6, sizeof v6, "fd00:235:%x::", static_cast<unsigned>(::getpid() % 65536));
  const std::string v6_cidr = std::string(v6) + "/64", node6 = std::string(v6) + "1";
  const std::string v4_cidr = "10.237." + std::to_string(::getpid() % 250) + ".0/24";

  // --pod-cidr with an IPv6 range alone: pods get one IPv6 address, no IPv4.
  CrispdOptions v6_only;
  v6_only.args = {"--pod-cidr", v6_cidr};
  start_crispd(v6_only);
  std::string pod = runp("v6-only");
  auto net = pod_status(pod).network();
  EXPECT_EQ(net.ip().rfind(v6, 0), 0u) << net.ip();
  EXPECT_EQ(net.additional_ips_size(), 0);
  serve_hello(pod, 8080);
  EXPECT_EQ(tcp_exchange_retry(net.ip(), 8080), "hello\n") << "node -> pod over IPv6";
  std::string client = sleeper(pod);
  NodeServer node;
  EXPECT_EQ(nc_from(client, node6, node.port()), "node\n") << "pod -> node over IPv6";
  remove_pod(pod);
  EXPECT_TRUE(ipam_ips().empty());
  TearDown();  // this crispd, its bridge and nft tables

  // Dual-stack from the flag, IPv6 first: the IPv6 address is the primary one.
  CrispdOptions dual_stack;
  dual_stack.args = {"--pod-cidr", v6_cidr + "," + v4_cidr};
  start_crispd(dual_stack);
  std::string dual = runp("dual-flag");
  auto dual_net = pod_status(dual).network();
  EXPECT_EQ(dual_net.ip().rfind(v6, 0), 0u) << dual_net.ip();
  ASSERT_EQ(dual_net.additional_ips_size(), 1);
  EXPECT_EQ(dual_net.additional_ips(0).ip().rfind("10.237.", 0), 0u) << dual_net.additional_ips(0).ip();
  remove_pod(dual);
  EXPECT_TRUE(ipam_ips().empty());
}

}  // namespace
}  // namespace crisp::test
