#pragma once
// Shared by the crispd-level network tests: a CrispdFixture started per test with the test's own
// flags, pods and busybox containers through CRI, traffic from inside pods (ExecSync + busybox nc)
// and from the test process, and counters of what pod networking leaves on the node (veths,
// netns pins, IPAM files, nft elements, portmap chains). The pod and container members are thin
// wrappers over tests/support/cri_pods.h bound to this fixture's crispd and busybox image.
//
// These tests run in a network namespace of their own (private_netns.cc): every link, address,
// nft table and iptables chain they see is theirs.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "runtime/base/unique_fd.h"
#include "tests/support/crispd_fixture.h"
#include "tests/support/standard_images_suite.h"
#include "tests/support/registry_fixture.h"
#include "tests/support/test_images.h"

namespace crisp::test {

struct PodSpec {
  int container_port = 0;
  int host_port = 0;
  std::string host_ip;
};

class CrispdPodsTest : public StandardImagesSuite {
 protected:
  void SetUp() override;
  void TearDown() override;  // removes every pod crispd lists, stops crispd

  // Starts crispd (a fresh fixture) and pulls busybox.
  void start_crispd(CrispdOptions options = {});

  ::grpc::Status try_runp(const std::string& name, const PodSpec& spec, std::string* id);
  std::string runp(const std::string& name, const PodSpec& spec = {});  // EXPECTs success
  std::string start_container(const std::string& pod, const std::string& name,
                              const std::vector<std::string>& command);
  ::runtime::v1::ExecSyncResponse exec(const std::string& container, const std::vector<std::string>& cmd,
                                       int timeout_s = 10);
  ::runtime::v1::PodSandboxStatus pod_status(const std::string& pod);
  std::vector<::runtime::v1::PodSandbox> list_pods();
  void remove_pod(const std::string& pod);  // stop + remove, EXPECTs success

  // A pod with a busybox container that answers "hello" on `port` (nc -ll) and one that sleeps
  // (to exec clients in). Returns the container ids.
  std::string serve_hello(const std::string& pod, int port);
  std::string sleeper(const std::string& pod);
  // Runs `echo | nc -w 2 ip port` in the container until it prints "hello" (or 20 tries).
  std::string nc_from(const std::string& container, const std::string& ip, int port);

  std::unique_ptr<CrispdFixture> crispd_;
  std::string logs_;
};

// --- the node side ----------------------------------------------------------------------------

// Connects to ip:port (IPv4 or IPv6), sends a newline, returns what comes back until close.
std::string tcp_exchange(const std::string& ip, int port, int timeout_ms = 3000);
// ... retried (for listeners that need a moment) until the answer is non-empty.
std::string tcp_exchange_retry(const std::string& ip, int port);
// A TCP port free on both 127.0.0.1 and :: right now.
int free_tcp_port();

// A listener in the test's netns (dual-stack, every address) that answers "node\n" to every
// connection until destroyed.
class NodeServer {
 public:
  NodeServer();
  ~NodeServer();
  int port() const { return port_; }

 private:
  UniqueFd listener_;
  int port_ = 0;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

// Names of the links (in the test's netns) whose master is `bridge`.
std::vector<std::string> links_on_bridge(const std::string& bridge);
// Names of every veth-ish link ("veth*") in the test's netns.
std::vector<std::string> veth_links();
// nsfs mounts (netns/ipc/uts pins) whose mount point is under prefix.
int nsfs_mounts_under(const std::string& prefix);
// Regular files under dir (recursively) whose name is an IPv4 or IPv6 address: IPAM reservations
// of crisp's built-in mode and of host-local.
std::vector<std::string> ip_files_under(const std::string& dir);
// Output of a shell command (stdout).
std::string shell(const std::string& command);
// Map elements (host ports) and rules of an nft table ("ip crt..."): a fingerprint of everything
// per-pod in it ("" if the table does not exist).
std::string nft_table_listing(const std::string& family_and_table);
// Count of lines in text containing needle.
int count_lines_with(const std::string& text, const std::string& needle);
// Count of occurrences of needle in text.
int count_occurrences(const std::string& text, const std::string& needle);
// Polls `get` every 20 ms until it returns `want` or `limit` passes; returns the last value.
template <typename T, typename F>
T settle(F get, const T& want, std::chrono::milliseconds limit = std::chrono::seconds(5)) {
  auto deadline = std::chrono::steady_clock::now() + limit;
  T value = get();
  while (!(value == want) && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    value = get();
  }
  return value;
}

}  // namespace crisp::test
