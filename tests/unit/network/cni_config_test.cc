#include "network/cni_config.h"

#include <gtest/gtest.h>

#include "runtime/base/error.h"
#include "runtime/base/file_util.h"
#include "tests/unit/network/temp_dir.h"

namespace crisp::network {
namespace {

using testing::TempDir;

const char* kConflist = R"({"cniVersion":"1.0.0","name":"%s","plugins":[
  {"type":"bridge","bridge":"cni0","ipam":{"type":"host-local"}},
  {"type":"portmap","capabilities":{"portMappings":true}}]})";

std::string conflist(const std::string& name) {
  char buf[512];
  std::snprintf(buf, sizeof buf, kConflist, name.c_str());
  return buf;
}

TEST(CniConfig, LexicallyFirstValidConfigWins) {
  TempDir dir;
  atomic_write_file(dir.path() + "/20-second.conflist", conflist("second"));
  atomic_write_file(dir.path() + "/10-first.conflist", conflist("first"));
  atomic_write_file(dir.path() + "/05-ignored.txt", conflist("ignored"));
  auto files = cni_config_files(dir.path());
  ASSERT_EQ(files.size(), 2u);
  EXPECT_EQ(files[0], dir.path() + "/10-first.conflist");
  auto selection = select_cni_config(dir.path());
  ASSERT_TRUE(selection.config);
  EXPECT_EQ(selection.config->name, "first");
  EXPECT_EQ(selection.config->plugins.size(), 2u);
}

TEST(CniConfig, BrokenFilesAreSkippedAndReported) {
  TempDir dir;
  atomic_write_file(dir.path() + "/00-broken.conflist", "{not json");
  atomic_write_file(dir.path() + "/01-noplugins.conflist", R"({"cniVersion":"1.0.0","name":"x","plugins":[]})");
  auto selection = select_cni_config(dir.path());
  EXPECT_FALSE(selection.config);
  EXPECT_NE(selection.error.find("00-broken.conflist"), std::string::npos);
  EXPECT_NE(selection.error.find("no plugins"), std::string::npos);
  atomic_write_file(dir.path() + "/99-good.conflist", conflist("good"));
  selection = select_cni_config(dir.path());
  ASSERT_TRUE(selection.config);
  EXPECT_EQ(selection.config->name, "good");
}

TEST(CniConfig, SinglePluginConfIsWrapped) {
  TempDir dir;
  atomic_write_file(dir.path() + "/10-kindnet.conf",
                    R"({"cniVersion":"0.4.0","name":"kindnet","type":"ptp","ipam":{"type":"host-local"}})");
  auto selection = select_cni_config(dir.path());
  ASSERT_TRUE(selection.config);
  EXPECT_EQ(selection.config->name, "kindnet");
  EXPECT_EQ(selection.config->cni_version, "0.4.0");
  ASSERT_EQ(selection.config->plugins.size(), 1u);
  EXPECT_EQ(selection.config->plugins[0]["type"], "ptp");
}

TEST(CniConfig, MissingDirHasNoConfig) {
  auto selection = select_cni_config("/nonexistent/crisp-cni-dir");
  EXPECT_FALSE(selection.config);
  EXPECT_NE(selection.error.find("no network config"), std::string::npos);
}

TEST(CniConfig, RejectsPluginTypeWithSlash) {
  EXPECT_THROW(CniNetworkConfig::from_json(
                   nlohmann::json::parse(R"({"name":"n","plugins":[{"type":"../../bin/sh"}]})"), "f"),
               Error);
}

TEST(CniArgs, Composition) {
  PodNetworkRequest request;
  request.sandbox_id = "abc123";
  request.pod_name = "web-0";
  request.pod_namespace = "default";
  request.pod_uid = "uid-1";
  EXPECT_EQ(compose_cni_args(request),
            "IgnoreUnknown=1;K8S_POD_NAMESPACE=default;K8S_POD_NAME=web-0;"
            "K8S_POD_INFRA_CONTAINER_ID=abc123;K8S_POD_UID=uid-1");
}

TEST(CniConfig, PluginStdinHasRuntimeConfigOnlyForDeclaredCapabilities) {
  auto config = CniNetworkConfig::from_json(nlohmann::json::parse(conflist("net")), "f");
  PodNetworkRequest request;
  request.port_mappings.push_back({"TCP", 80, 8080, ""});
  request.cgroup_parent = "/kubepods/pod1";
  auto rc = full_runtime_config(request);
  auto prev = nlohmann::json{{"cniVersion", "1.0.0"}, {"ips", nlohmann::json::array()}};

  auto bridge = plugin_stdin_config(config, 0, nullptr, rc);
  EXPECT_EQ(bridge["name"], "net");
  EXPECT_EQ(bridge["cniVersion"], "1.0.0");
  EXPECT_FALSE(bridge.contains("runtimeConfig"));
  EXPECT_FALSE(bridge.contains("prevResult"));

  auto portmap = plugin_stdin_config(config, 1, prev, rc);
  ASSERT_TRUE(portmap.contains("runtimeConfig"));
  EXPECT_FALSE(portmap["runtimeConfig"].contains("cgroupPath"));
  auto mapping = portmap["runtimeConfig"]["portMappings"][0];
  EXPECT_EQ(mapping["hostPort"], 8080);
  EXPECT_EQ(mapping["containerPort"], 80);
  EXPECT_EQ(mapping["protocol"], "tcp");
  EXPECT_EQ(portmap["prevResult"], prev);
}

TEST(CniConfig, VersionCompare) {
  EXPECT_LT(compare_cni_versions("0.3.1", "0.4.0"), 0);
  EXPECT_GT(compare_cni_versions("1.0.0", "0.4.0"), 0);
  EXPECT_EQ(compare_cni_versions("0.4.0", "0.4.0"), 0);
}

}  // namespace
}  // namespace crisp::network
