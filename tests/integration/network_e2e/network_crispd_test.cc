// Pod networking through a real crispd in built-in mode, on the fixture's own bridge, nft table and
// pod CIDR: pods reach each other and the bridge by IP, a host port forwards to a pod, and stop/remove
// (also after a SIGKILL of crispd) leave no veth and no IPAM allocation behind. Traffic goes only to
// pods this test created, the fixture's bridge address and loopback.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "runtime/base/file_util.h"
#include "runtime/base/unique_fd.h"
#include "tests/support/cri_pods.h"
#include "tests/support/crispd_fixture.h"
#include "tests/support/standard_images_suite.h"
#include "tests/support/registry_fixture.h"
#include "tests/support/test_images.h"

namespace crisp::test {
namespace {

namespace fs = std::filesystem;
namespace v1 = ::runtime::v1;
using namespace std::chrono_literals;

// "10.234.7.0/24" -> "10.234.7.1" (the bridge's address: first host of the pod CIDR).
std::string first_host(const std::string& cidr) {
  std::string network = cidr.substr(0, cidr.find('/'));
  in_addr addr{};
  EXPECT_EQ(::inet_pton(AF_INET, network.c_str(), &addr), 1) << cidr;
  addr.s_addr = htonl(ntohl(addr.s_addr) + 1);
  char text[INET_ADDRSTRLEN] = {};
  ::inet_ntop(AF_INET, &addr, text, sizeof(text));
  return text;
}

bool in_cidr(const std::string& ip, const std::string& cidr) {
  in_addr a{}, n{};
  if (::inet_pton(AF_INET, ip.c_str(), &a) != 1) return false;
  if (::inet_pton(AF_INET, cidr.substr(0, cidr.find('/')).c_str(), &n) != 1) return false;
  int length = std::stoi(cidr.substr(cidr.find('/') + 1));
  uint32_t mask = length == 0 ? 0 : ~uint32_t{0} << (32 - length);
  return (ntohl(a.s_addr) & mask) == (ntohl(n.s_addr) & mask);
}

// A TCP port on 127.0.0.1 that is free right now.
int free_tcp_port() {
  UniqueFd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::bind(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) return 0;
  socklen_t len = sizeof(addr);
  ::getsockname(fd.get(), reinterpret_cast<sockaddr*>(&addr), &len);
  return ntohs(addr.sin_port);
}

// Connects to ip:port, sends a newline, returns what the peer writes until it closes ("" on failure).
std::string tcp_exchange(const std::string& ip, int port) {
  UniqueFd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  timeval tv{3, 0};
  ::setsockopt(fd.get(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  ::setsockopt(fd.get(), SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  ::inet_pton(AF_INET, ip.c_str(), &addr.sin_addr);
  if (::connect(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) return "";
  (void)::write(fd.get(), "\n", 1);
  std::string out;
  char buf[256];
  for (;;) {
    ssize_t n = ::read(fd.get(), buf, sizeof(buf));
    if (n <= 0) break;
    out.append(buf, static_cast<size_t>(n));
  }
  return out;
}

class NetworkCrispdTest : public StandardImagesSuite {
 protected:
  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "needs root";
    crispd_ = std::make_unique<CrispdFixture>();
    logs_ = crispd_->dir() + "/pod-logs";
    pull(crispd_->images(), images_->busybox.ref);
  }

  void TearDown() override {
    if (crispd_ && crispd_->running()) remove_all_pods(crispd_->runtime(), /*stop_first=*/true);
    crispd_.reset();
  }

  std::string runp(const std::string& name, int container_port = 0, int host_port = 0) {
    auto config = pod_config(name, logs_);
    if (host_port > 0) {
      auto* m = config.add_port_mappings();
      m->set_protocol(v1::TCP);
      m->set_container_port(container_port);
      m->set_host_port(host_port);
    }
    return run_pod(crispd_->runtime(), config);
  }

  std::string start_container(const std::string& pod, const std::string& name,
                              const std::vector<std::string>& command) {
    return crisp::test::start_container(crispd_->runtime(), pod, container_config(name, images_->busybox.ref, command));
  }

  v1::ExecSyncResponse exec(const std::string& id, const std::vector<std::string>& cmd) {
    return crisp::test::exec(crispd_->runtime(), id, cmd, 10);
  }

  // The pod's IP as PodSandboxStatus reports it ("" on error).
  std::string pod_ip(const std::string& pod) { return pod_status(crispd_->runtime(), pod).status().network().ip(); }

  void remove_pod(const std::string& pod) { stop_and_remove_pod(crispd_->runtime(), pod); }

  // Interfaces enslaved to the fixture's bridge (the host ends of pod veths).
  int veths_on_bridge() {
    std::string brif = "/sys/class/net/" + crispd_->bridge() + "/brif";
    if (!fs::exists(brif)) return 0;
    return static_cast<int>(std::distance(fs::directory_iterator(brif), fs::directory_iterator()));
  }

  // IPAM allocation files under <state>/network (one file named by a dotted IPv4 address each;
  // hint files "last_reserved_ip.*" are not allocations).
  std::vector<std::string> ipam_allocations() {
    std::vector<std::string> found;
    std::string dir = crispd_->state() + "/network";
    if (!fs::exists(dir)) return found;
    for (const auto& entry : fs::recursive_directory_iterator(dir)) {
      if (!entry.is_regular_file()) continue;
      std::string name = entry.path().filename().string();
      in_addr addr{};
      if (::inet_pton(AF_INET, name.c_str(), &addr) == 1) found.push_back(name);
    }
    return found;
  }

  // Veth count once it reaches `expected`, or after `limit`. The host end of a veth whose pod end
  // sits in a netns crisp lets go of disappears when the kernel destroys that netns, which happens
  // asynchronously (cleanup_net workqueue) after RemovePodSandbox returns. Reports how long it took.
  int veths_on_bridge_settled(int expected, std::chrono::milliseconds limit = 5s) {
    auto begin = std::chrono::steady_clock::now();
    int count = veths_on_bridge();
    while (count != expected && std::chrono::steady_clock::now() - begin < limit) {
      std::this_thread::sleep_for(20ms);
      count = veths_on_bridge();
    }
    auto waited = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - begin);
    if (waited > 0ms) std::printf("[   INFO   ] %d veth(s) on the bridge after %lld ms\n", count,
                                  static_cast<long long>(waited.count()));
    return count;
  }

  std::unique_ptr<CrispdFixture> crispd_;
  std::string logs_;
};


TEST_F(NetworkCrispdTest, TwoPodsReachEachOtherAndTheBridge) {
  std::string pod_a = runp("net-a");
  std::string pod_b = runp("net-b");
  std::string ip_a = pod_ip(pod_a);
  std::string ip_b = pod_ip(pod_b);
  EXPECT_TRUE(in_cidr(ip_a, crispd_->pod_cidr())) << ip_a << " not in " << crispd_->pod_cidr();
  EXPECT_TRUE(in_cidr(ip_b, crispd_->pod_cidr())) << ip_b << " not in " << crispd_->pod_cidr();
  EXPECT_NE(ip_a, ip_b);
  ASSERT_FALSE(ip_a.empty());

  start_container(pod_a, "server", {"nc", "-ll", "-p", "8080", "-e", "echo", "hello"});
  std::string client = start_container(pod_b, "client", {"sleep", "3600"});

  // The listener may need a moment to bind.
  std::string reply;
  for (int attempt = 0; attempt < 20 && reply.find("hello") == std::string::npos; ++attempt) {
    if (attempt > 0) std::this_thread::sleep_for(100ms);
    reply = exec(client, {"sh", "-c", "echo | nc -w 2 " + ip_a + " 8080"}).stdout();
  }
  EXPECT_EQ(reply, "hello\n");

  std::string bridge_ip = first_host(crispd_->pod_cidr());
  auto ping = exec(client, {"ping", "-c1", "-W2", bridge_ip});
  EXPECT_EQ(ping.exit_code(), 0) << ping.stdout() << ping.stderr();
}

TEST_F(NetworkCrispdTest, HostPortForwardsToPod) {
  int host_port = free_tcp_port();
  ASSERT_GT(host_port, 0);
  std::string pod = runp("net-hostport", 8080, host_port);
  ASSERT_TRUE(in_cidr(pod_ip(pod), crispd_->pod_cidr()));
  start_container(pod, "server", {"nc", "-ll", "-p", "8080", "-e", "echo", "hello"});

  auto exchange_with_retry = [&](const std::string& ip) {
    std::string reply;
    for (int attempt = 0; attempt < 20 && reply.empty(); ++attempt) {
      if (attempt > 0) std::this_thread::sleep_for(100ms);
      reply = tcp_exchange(ip, host_port);
    }
    return reply;
  };
  // The node's bridge address and loopback (DNAT in the nat output hook; route_localnet on the bridge).
  EXPECT_EQ(exchange_with_retry(first_host(crispd_->pod_cidr())), "hello\n") << "via the bridge address";
  EXPECT_EQ(exchange_with_retry("127.0.0.1"), "hello\n") << "via 127.0.0.1";
}

TEST_F(NetworkCrispdTest, TeardownOfTenPodsLeavesNothing) {
  constexpr int kPods = 10;
  std::vector<std::string> pods;
  for (int i = 0; i < kPods; ++i) pods.push_back(runp("net-many-" + std::to_string(i)));
  EXPECT_EQ(veths_on_bridge(), kPods);
  EXPECT_EQ(ipam_allocations().size(), static_cast<size_t>(kPods));
  for (const auto& pod : pods) remove_pod(pod);
  EXPECT_EQ(veths_on_bridge_settled(0), 0);
  EXPECT_TRUE(ipam_allocations().empty()) << ipam_allocations().size() << " allocations left";
}

TEST_F(NetworkCrispdTest, SigkillOfCrispdKeepsLivePodsAndReleasesRemovedOnes) {
  constexpr int kPods = 5;
  std::vector<std::string> pods;
  std::vector<std::string> ips;
  for (int i = 0; i < kPods; ++i) {
    pods.push_back(runp("net-kill-" + std::to_string(i)));
    ips.push_back(pod_ip(pods.back()));
  }
  ASSERT_EQ(ipam_allocations().size(), static_cast<size_t>(kPods));

  auto before_kill = std::chrono::steady_clock::now();
  crispd_->kill9();
  auto killed = std::chrono::steady_clock::now();
  crispd_->start();
  auto started = std::chrono::steady_clock::now();
  std::printf("[   INFO   ] kill9 took %lld ms, restart %lld ms\n",
              static_cast<long long>(std::chrono::duration_cast<std::chrono::milliseconds>(killed - before_kill).count()),
              static_cast<long long>(std::chrono::duration_cast<std::chrono::milliseconds>(started - killed).count()));

  remove_pod(pods[0]);
  remove_pod(pods[1]);
  EXPECT_EQ(ipam_allocations().size(), 3u);
  EXPECT_EQ(veths_on_bridge_settled(3), 3);
  for (int i = 2; i < kPods; ++i) EXPECT_EQ(pod_ip(pods[i]), ips[i]) << "pod " << i;
  for (int i = 2; i < kPods; ++i) remove_pod(pods[i]);
  EXPECT_EQ(veths_on_bridge_settled(0), 0);
  EXPECT_TRUE(ipam_allocations().empty()) << ipam_allocations().size() << " allocations left";
}

// A SIGKILL after the pod's network was set up but before its sandbox record got the IPs (as if
// RunPodSandbox had been cut there): the restarted crispd completes the record from the network's.
TEST_F(NetworkCrispdTest, SigkillBetweenNetworkSetupAndSandboxRecordIsCompletedOnRestart) {
  std::string pod = runp("net-cut");
  std::string ip = pod_ip(pod);
  ASSERT_FALSE(ip.empty());
  crispd_->kill9();
  std::string record_path = crispd_->root() + "/sandboxes/" + pod + ".json";
  auto record = nlohmann::json::parse(read_file(record_path));
  record["ip"] = "";
  record["additional_ips"] = nlohmann::json::array();
  atomic_write_file(record_path, record.dump(), 0600);
  crispd_->start();

  EXPECT_EQ(pod_ip(pod), ip);
  EXPECT_EQ(ipam_allocations().size(), 1u);
  EXPECT_NE(crispd_->log().find("IP " + ip + " recorded now"), std::string::npos) << crispd_->log();
  remove_pod(pod);
  EXPECT_TRUE(ipam_allocations().empty());
}

}  // namespace
}  // namespace crisp::test
