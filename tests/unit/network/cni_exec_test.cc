// Runs fake plugins (shell scripts) to test the invocation protocol: env, stdin, output, timeout.
#include "network/cni_exec.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <nlohmann/json.hpp>

#include "runtime/base/error.h"
#include "runtime/base/file_util.h"
#include "tests/unit/network/temp_dir.h"

namespace crisp::network {
namespace {

using testing::TempDir;

std::string write_plugin(const TempDir& dir, const std::string& name, const std::string& script) {
  std::string path = dir.path() + "/" + name;
  atomic_write_file(path, "#!/bin/sh\n" + script, 0755);
  return path;
}

TEST(CniExec, PassesEnvironmentAndStdin) {
  TempDir dir;
  std::string plugin = write_plugin(dir, "echo",
      "stdin=$(cat)\n"
      "printf '{\"cmd\":\"%s\",\"id\":\"%s\",\"netns\":\"%s\",\"ifname\":\"%s\",\"args\":\"%s\","
      "\"path\":\"%s\",\"stdin\":%s}' \"$CNI_COMMAND\" \"$CNI_CONTAINERID\" \"$CNI_NETNS\" "
      "\"$CNI_IFNAME\" \"$CNI_ARGS\" \"$CNI_PATH\" \"$stdin\"\n");
  CniInvocation inv;
  inv.plugin_path = plugin;
  inv.command = "ADD";
  inv.container_id = "sb1";
  inv.netns = "/run/netns/x";
  inv.args = "IgnoreUnknown=1";
  inv.cni_path = "/a:/b";
  inv.stdin_data = R"({"name":"n"})";
  CniOutput out = run_cni_plugin(inv);
  EXPECT_EQ(out.exit_code, 0);
  auto j = nlohmann::json::parse(out.out);
  EXPECT_EQ(j["cmd"], "ADD");
  EXPECT_EQ(j["id"], "sb1");
  EXPECT_EQ(j["netns"], "/run/netns/x");
  EXPECT_EQ(j["ifname"], "eth0");
  EXPECT_EQ(j["args"], "IgnoreUnknown=1");
  EXPECT_EQ(j["path"], "/a:/b");
  EXPECT_EQ(j["stdin"]["name"], "n");
}

TEST(CniExec, CollectsFailureOutput) {
  TempDir dir;
  std::string plugin = write_plugin(dir, "fail",
      "echo '{\"code\":7,\"msg\":\"bad config\"}'\necho oops >&2\nexit 1\n");
  CniInvocation inv;
  inv.plugin_path = plugin;
  inv.command = "ADD";
  inv.stdin_data = std::string(300000, ' ');  // larger than a pipe buffer; plugin never reads it
  CniOutput out = run_cni_plugin(inv);
  EXPECT_EQ(out.exit_code, 1);
  EXPECT_NE(out.out.find("bad config"), std::string::npos);
  EXPECT_EQ(out.err, "oops\n");
}

TEST(CniExec, TimesOut) {
  TempDir dir;
  std::string plugin = write_plugin(dir, "slow", "exec sleep 10\n");
  CniInvocation inv;
  inv.plugin_path = plugin;
  inv.command = "ADD";
  inv.timeout_ms = 200;
  try {
    run_cni_plugin(inv);
    FAIL() << "expected a timeout";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kDeadlineExceeded);
  }
}

TEST(CniExec, FindsPluginInBinDirs) {
  TempDir a, b;
  write_plugin(b, "bridge", "exit 0\n");
  EXPECT_EQ(find_cni_plugin("bridge", {a.path(), b.path()}), b.path() + "/bridge");
  try {
    find_cni_plugin("nope", {a.path(), b.path()});
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kNotFound);
    EXPECT_NE(std::string(e.what()).find("nope"), std::string::npos);
  }
}

}  // namespace
}  // namespace crisp::network
