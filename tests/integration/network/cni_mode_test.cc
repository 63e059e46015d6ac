// The CNI mode with Debian's containernetworking-plugins (/usr/lib/cni): a bridge + host-local +
// portmap + loopback conflist, a kindnet-like ptp conflist, and broken configs.
#include <dirent.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <memory>

#include "network/netlink.h"
#include "network/network.h"
#include "runtime/base/error.h"
#include "runtime/base/file_util.h"
#include "tests/integration/network/pod_netns.h"

namespace crisp::network {
namespace {

using testing::PodNetns;
using testing::TempDir;

// host-local's reservations in its dataDir: one file per IP, named by it.
size_t host_local_ips(const std::string& dir) {
  size_t n = 0;
  DIR* d = ::opendir(dir.c_str());
  if (!d) return 0;
  while (dirent* network = ::readdir(d)) {
    if (network->d_name[0] == '.') continue;
    DIR* nd = ::opendir((dir + "/" + network->d_name).c_str());
    if (!nd) continue;
    while (dirent* e = ::readdir(nd)) {
      std::string name = e->d_name;
      if (name.find('.') != std::string::npos && name.rfind("last_reserved_ip", 0) != 0 &&
          name != "." && name != ".." && name != "lock") {
        ++n;
      }
    }
    ::closedir(nd);
  }
  ::closedir(d);
  return n;
}

size_t files_in(const std::string& dir) {
  size_t n = 0;
  DIR* d = ::opendir(dir.c_str());
  if (!d) return 0;
  while (dirent* e = ::readdir(d)) n += e->d_name[0] != '.';
  ::closedir(d);
  return n;
}

class CniModeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    tag_ = static_cast<int>(::getpid() % 10000);
    bridge_ = "cnitest" + std::to_string(tag_);
    subnet_ = "10.223." + std::to_string(tag_ % 250) + ".0/24";
    conf_dir_ = dir_.path() + "/net.d";
    make_dirs(conf_dir_);
    options_.mode = NetworkMode::kCni;
    options_.cni_conf_dir = conf_dir_;
    options_.cni_bin_dirs = {dir_.path() + "/no-such-bin", "/usr/lib/cni"};
    options_.state_dir = dir_.path() + "/state";
    options_.bridge_name = "crisptest" + std::to_string(tag_);
    options_.nft_table = "crisptest" + std::to_string(tag_);
    network_ = std::make_unique<PodNetwork>(options_);
  }
  void TearDown() override {
    network_.reset();
    RouteSocket sock;
    delete_link(sock, bridge_);
  }

  std::string ipam_dir() const { return dir_.path() + "/cni-ipam"; }

  std::string bridge_conflist(const std::string& subnet) const {
    return R"({"cniVersion":"1.0.0","name":"crisp-test-bridge","plugins":[
      {"type":"bridge","bridge":")" + bridge_ + R"(","isGateway":true,"ipMasq":false,"hairpinMode":true,
       "ipam":{"type":"host-local","dataDir":")" + ipam_dir() + R"(","ranges":[[{"subnet":")" + subnet +
           R"("}]],"routes":[{"dst":"0.0.0.0/0"}]}},
      {"type":"portmap","capabilities":{"portMappings":true}},
      {"type":"loopback"}]})";
  }

  PodNetworkRequest request_for(const std::string& id, const PodNetns& netns) {
    PodNetworkRequest request;
    request.sandbox_id = id;
    request.pod_name = "pod-" + id;
    request.pod_namespace = "default";
    request.pod_uid = "uid-" + id;
    request.netns_path = netns.path();
    return request;
  }

  TempDir dir_, pins_;
  int tag_ = 0;
  std::string bridge_, subnet_, conf_dir_;
  NetworkOptions options_;
  std::unique_ptr<PodNetwork> network_;
};

TEST_F(CniModeTest, BridgeHostLocalPortmapLoopback) {
  atomic_write_file(conf_dir_ + "/10-test.conflist", bridge_conflist(subnet_));
  EXPECT_EQ(network_->mode(), "cni:crisp-test-bridge");
  PodNetns a_ns(pins_.path(), "a"), b_ns(pins_.path(), "b");
  auto a_req = request_for("cni-a", a_ns);
  a_req.port_mappings = {{"tcp", 9090, 19090, ""}};
  auto b_req = request_for("cni-b", b_ns);
  PodNetworkResult a = network_->setup(a_req);
  PodNetworkResult b = network_->setup(b_req);
  EXPECT_EQ(a.ip.rfind("10.223.", 0), 0u) << a.ip;
  EXPECT_NE(a.ip, b.ip);
  EXPECT_EQ(host_local_ips(ipam_dir()), 2u);

  EXPECT_EQ(testing::busybox_in(a_ns.fd(), {"ping", "-c", "1", "-W", "2", b.ip}), 0);
  EXPECT_EQ(testing::busybox_in(-1, {"ping", "-c", "1", "-W", "2", a.ip}), 0);
  // portmap's DNAT from a node address (the bridge's gateway address) to pod a.
  std::string gateway = a.gateway.empty() ? "10.223." + std::to_string(tag_ % 250) + ".1" : a.gateway;
  testing::serve_once(testing::listen_tcp(a_ns.fd(), 9090));
  EXPECT_EQ(testing::tcp_exchange(-1, gateway, 19090), "pong:ping");

  // CHECK through the chain (pod b: portmap in containernetworking-plugins 1.1.1 fails CHECK of an
  // IPv4-only pod with host ports, looking for ip6tables rules: upstream issue #819).
  network_->check(b_req);
  // The conf dir changes: DEL still uses the config ADD used (cached).
  ::unlink((conf_dir_ + "/10-test.conflist").c_str());
  network_->teardown(a_req);
  network_->teardown(b_req);
  network_->teardown(b_req);
  EXPECT_EQ(host_local_ips(ipam_dir()), 0u);
  EXPECT_EQ(files_in(options_.state_dir + "/cni"), 0u);
  EXPECT_EQ(files_in(options_.state_dir + "/pods"), 0u);
  testing::serve_once(testing::listen_tcp(a_ns.fd(), 9090));
  EXPECT_EQ(testing::tcp_exchange(-1, gateway, 19090, 500), "");
}

TEST_F(CniModeTest, KindnetLikePtp) {
  std::string subnet = "10.224." + std::to_string(tag_ % 250) + ".0/24";
  atomic_write_file(conf_dir_ + "/10-kindnet.conflist", R"({"cniVersion":"0.3.1","name":"kindnet","plugins":[
    {"type":"ptp","ipMasq":false,"ipam":{"type":"host-local","dataDir":")" + ipam_dir() +
        R"(","routes":[{"dst":"0.0.0.0/0"}],"ranges":[[{"subnet":")" + subnet + R"("}]]},"mtu":1500},
    {"type":"portmap","capabilities":{"portMappings":true}}]})");
  EXPECT_EQ(network_->mode(), "cni:kindnet");
  PodNetns a_ns(pins_.path(), "a");
  auto req = request_for("ptp-a", a_ns);
  PodNetworkResult a = network_->setup(req);
  EXPECT_EQ(a.ip.rfind("10.224.", 0), 0u) << a.ip;
  EXPECT_EQ(testing::busybox_in(-1, {"ping", "-c", "1", "-W", "2", a.ip}), 0);
  network_->check(req);  // 0.3.1: CHECK is not defined, so a no-op
  // The netns is gone before StopPodSandbox: DEL must still release the IP.
  a_ns.destroy();
  network_->teardown(req);
  EXPECT_EQ(host_local_ips(ipam_dir()), 0u);
  EXPECT_EQ(files_in(options_.state_dir + "/cni"), 0u);
}

TEST_F(CniModeTest, RecoverRunsDelForDeadPods) {
  atomic_write_file(conf_dir_ + "/10-test.conflist", bridge_conflist(subnet_));
  PodNetns a_ns(pins_.path(), "a"), b_ns(pins_.path(), "b");
  auto a_req = request_for("cni-live", a_ns);
  auto b_req = request_for("cni-dead", b_ns);
  network_->setup(a_req);
  network_->setup(b_req);
  EXPECT_EQ(host_local_ips(ipam_dir()), 2u);
  network_ = std::make_unique<PodNetwork>(options_);  // crispd restarts
  network_->recover({a_req.sandbox_id});
  EXPECT_EQ(host_local_ips(ipam_dir()), 1u);
  EXPECT_FALSE(testing::link_exists(b_ns.fd(), "eth0"));
  network_->teardown(a_req);
  EXPECT_EQ(host_local_ips(ipam_dir()), 0u);
}

TEST_F(CniModeTest, MissingPluginFailsWithItsMessageAndLeavesNothing) {
  atomic_write_file(conf_dir_ + "/10-test.conflist", R"({"cniVersion":"1.0.0","name":"broken","plugins":[
    {"type":"bridge","bridge":")" + bridge_ + R"(","ipam":{"type":"host-local","dataDir":")" + ipam_dir() +
        R"(","ranges":[[{"subnet":")" + subnet_ + R"("}]]}},
    {"type":"no-such-plugin"}]})");
  PodNetns a_ns(pins_.path(), "a");
  auto req = request_for("broken-a", a_ns);
  try {
    network_->setup(req);
    FAIL() << "setup succeeded with a missing plugin";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("no-such-plugin"), std::string::npos) << e.what();
  }
  EXPECT_EQ(host_local_ips(ipam_dir()), 0u);
  EXPECT_FALSE(testing::link_exists(a_ns.fd(), "eth0"));
  EXPECT_EQ(files_in(options_.state_dir + "/cni"), 0u);
  EXPECT_EQ(files_in(options_.state_dir + "/pods"), 0u);
}

TEST_F(CniModeTest, PluginErrorIsSurfacedVerbatim) {
  atomic_write_file(conf_dir_ + "/10-test.conflist", bridge_conflist("not-a-subnet"));
  PodNetns a_ns(pins_.path(), "a");
  auto req = request_for("broken-b", a_ns);
  try {
    network_->setup(req);
    FAIL() << "setup succeeded with a bad subnet";
  } catch (const Error& e) {
    std::string what = e.what();
    EXPECT_NE(what.find("CNI plugin bridge failed (ADD)"), std::string::npos) << what;
    EXPECT_NE(what.find("not-a-subnet"), std::string::npos) << what;
  }
  EXPECT_FALSE(testing::link_exists(a_ns.fd(), "eth0"));
  EXPECT_EQ(files_in(options_.state_dir + "/cni"), 0u);
}

}  // namespace
}  // namespace crisp::network
