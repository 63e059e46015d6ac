// status() and mode() follow the watched CNI conf dir live.
#include <gtest/gtest.h>
#include <unistd.h>

#include "network/network.h"
#include "runtime/base/error.h"
#include "runtime/base/file_util.h"
#include "tests/integration/network/pod_netns.h"

namespace crisp::network {
namespace {

using testing::TempDir;

const char* kConflist = R"({"cniVersion":"1.0.0","name":"late","plugins":[{"type":"ptp"}]})";

NetworkOptions options_in(const TempDir& dir, NetworkMode mode) {
  NetworkOptions options;
  options.mode = mode;
  options.cni_conf_dir = dir.path() + "/net.d";
  options.state_dir = dir.path() + "/state";
  options.bridge_name = "crisptestr";
  options.nft_table = "crisptestr";
  return options;
}

TEST(Readiness, CniModeBecomesReadyWhenAConflistIsWritten) {
  TempDir dir;
  PodNetwork network(options_in(dir, NetworkMode::kCni));  // conf dir does not even exist yet
  auto status = network.status();
  EXPECT_FALSE(status.ready);
  EXPECT_EQ(status.reason, "NetworkPluginNotReady");
  EXPECT_NE(status.message.find("net.d"), std::string::npos) << status.message;
  EXPECT_EQ(network.mode(), "");
  PodNetworkRequest request;
  request.sandbox_id = "r1";
  request.netns_path = "/proc/self/ns/net";
  try {
    network.setup(request);
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kFailedPrecondition);
  }

  make_dirs(dir.path() + "/net.d");
  EXPECT_FALSE(network.status().ready);
  atomic_write_file(dir.path() + "/net.d/10-late.conflist", kConflist);
  EXPECT_TRUE(network.status().ready);
  EXPECT_EQ(network.mode(), "cni:late");

  ::unlink((dir.path() + "/net.d/10-late.conflist").c_str());
  EXPECT_FALSE(network.status().ready);
}

TEST(Readiness, AutoModeSwitchesLive) {
  TempDir dir;
  make_dirs(dir.path() + "/net.d");
  PodNetwork network(options_in(dir, NetworkMode::kAuto));
  EXPECT_TRUE(network.status().ready);
  EXPECT_EQ(network.mode(), "builtin");
  atomic_write_file(dir.path() + "/net.d/10-late.conflist", kConflist);
  EXPECT_EQ(network.mode(), "cni:late");
  remove_tree(dir.path() + "/net.d");
  EXPECT_EQ(network.mode(), "builtin");
  make_dirs(dir.path() + "/net.d");
  atomic_write_file(dir.path() + "/net.d/10-late.conflist", kConflist);
  EXPECT_EQ(network.mode(), "cni:late");
}

TEST(Readiness, BuiltinModeIgnoresConfigs) {
  TempDir dir;
  make_dirs(dir.path() + "/net.d");
  atomic_write_file(dir.path() + "/net.d/10-late.conflist", kConflist);
  PodNetwork network(options_in(dir, NetworkMode::kBuiltin));
  EXPECT_TRUE(network.status().ready);
  EXPECT_EQ(network.mode(), "builtin");
}

}  // namespace
}  // namespace crisp::network
