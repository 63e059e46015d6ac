// crispd as a process: the foundation RPCs, socket ownership, crash replacement, garbage input.
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cstdio>
#include <cstring>
#include <nlohmann/json.hpp>

#include "tests/support/crispd_fixture.h"

namespace crisp::test {
namespace {

namespace v1 = ::runtime::v1;

// Runs a command, returns {exit status, combined output}.
std::pair<int, std::string> run(const std::string& cmd) {
  std::string out;
  FILE* p = ::popen((cmd + " 2>&1").c_str(), "r");
  if (!p) return {-1, ""};
  std::array<char, 4096> buf;
  size_t n;
  while ((n = std::fread(buf.data(), 1, buf.size(), p)) > 0) out.append(buf.data(), n);
  int status = ::pclose(p);
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, out};
}

std::string join(const std::vector<std::string>& words) {
  std::string s;
  for (const auto& w : words) s += (s.empty() ? "" : " ") + w;
  return s;
}

bool version_ok(CrispdFixture& crispd) {
  v1::VersionResponse resp;
  auto ctx = client_context();
  return crispd.runtime().Version(ctx.get(), {}, &resp).ok() && resp.runtime_name() == "crisp";
}

TEST(DaemonTest, VersionAndRuntimeConfig) {
  CrispdFixture crispd;
  v1::VersionResponse version;
  auto ctx = client_context();
  ASSERT_TRUE(crispd.runtime().Version(ctx.get(), {}, &version).ok());
  EXPECT_EQ(version.runtime_name(), "crisp");
  EXPECT_EQ(version.runtime_api_version(), "v1");
  EXPECT_FALSE(version.runtime_version().empty());

  v1::RuntimeConfigResponse rc;
  ctx = client_context();
  ASSERT_TRUE(crispd.runtime().RuntimeConfig(ctx.get(), {}, &rc).ok());
  EXPECT_EQ(rc.linux().cgroup_driver(), v1::CGROUPFS);

  v1::UpdateRuntimeConfigRequest update;
  update.mutable_runtime_config()->mutable_network_config()->set_pod_cidr("10.244.0.0/24");
  v1::UpdateRuntimeConfigResponse update_resp;
  ctx = client_context();
  EXPECT_TRUE(crispd.runtime().UpdateRuntimeConfig(ctx.get(), update, &update_resp).ok());
}

TEST(DaemonTest, StatusReportsRuntimeReadyAndVerboseConfig) {
  CrispdFixture crispd;
  v1::StatusRequest req;
  req.set_verbose(true);
  v1::StatusResponse resp;
  auto ctx = client_context();
  ASSERT_TRUE(crispd.runtime().Status(ctx.get(), req, &resp).ok());
  bool runtime_ready = false, has_network = false;
  for (const auto& c : resp.status().conditions()) {
    if (c.type() == "RuntimeReady") runtime_ready = c.status();
    if (c.type() == "NetworkReady") {
      has_network = true;
      if (!c.status()) {
        EXPECT_FALSE(c.reason().empty());
      }
    }
  }
  EXPECT_TRUE(runtime_ready);
  EXPECT_TRUE(has_network);
  ASSERT_TRUE(resp.info().count("config"));
  auto config = nlohmann::json::parse(resp.info().at("config"));
  EXPECT_EQ(config["socket"], crispd.socket());
  EXPECT_EQ(config["root"], crispd.root());
}

TEST(DaemonTest, UnimplementedRpcNamesItself) {
  CrispdFixture crispd;
  v1::CheckpointContainerRequest req;
  req.set_container_id("abc");
  v1::CheckpointContainerResponse resp;
  auto ctx = client_context();
  grpc::Status s = crispd.runtime().CheckpointContainer(ctx.get(), req, &resp);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::UNIMPLEMENTED);
  EXPECT_NE(s.error_message().find("CheckpointContainer"), std::string::npos) << s.error_message();
}

TEST(DaemonTest, SocketIsPrivateToRoot) {
  CrispdFixture crispd;
  struct stat st;
  ASSERT_EQ(::stat(crispd.socket().c_str(), &st), 0);
  EXPECT_TRUE(S_ISSOCK(st.st_mode));
  EXPECT_EQ(st.st_mode & 0777, 0660u);
  EXPECT_EQ(st.st_uid, 0u);
  EXPECT_EQ(st.st_gid, 0u);
}

TEST(DaemonTest, SecondCrispdOnSameSocketRefuses) {
  CrispdFixture crispd;
  // Same socket and state dir: the lock is held.
  auto [rc, out] = run(join(crispd.command()));
  EXPECT_EQ(rc, 1) << out;
  EXPECT_NE(out.find("another crispd"), std::string::npos) << out;
  // Same socket, another state dir: the socket is live.
  std::vector<std::string> cmd = crispd.command();
  for (size_t i = 0; i + 1 < cmd.size(); ++i)
    if (cmd[i] == "--state") cmd[i + 1] = crispd.dir() + "/state2";
  std::tie(rc, out) = run(join(cmd));
  EXPECT_EQ(rc, 1) << out;
  EXPECT_NE(out.find("served by another process"), std::string::npos) << out;
  EXPECT_TRUE(version_ok(crispd)) << "the first crispd must keep serving";
}

TEST(DaemonTest, KilledCrispdIsReplacedWithoutCleanup) {
  CrispdFixture crispd;
  crispd.kill9();
  struct stat st;
  ASSERT_EQ(::stat(crispd.socket().c_str(), &st), 0) << "a SIGKILLed crispd leaves its socket behind";
  crispd.start();
  EXPECT_TRUE(version_ok(crispd));
}

TEST(DaemonTest, SigtermShutsDownCleanly) {
  CrispdFixture crispd;
  int status = crispd.stop();
  EXPECT_TRUE(WIFEXITED(status)) << status;
  EXPECT_EQ(WEXITSTATUS(status), 0);
  EXPECT_NE(::access(crispd.socket().c_str(), F_OK), 0) << "socket removed on clean shutdown";
  EXPECT_NE(crispd.log().find("crispd stopped"), std::string::npos) << crispd.log();
}

int connect_unix(const std::string& path) {
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::strncpy(addr.sun_path, path.c_str(), sizeof addr.sun_path - 1);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

void send_and_close(const std::string& path, const std::string& bytes) {
  int fd = connect_unix(path);
  ASSERT_GE(fd, 0);
  ssize_t n = ::send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL);
  (void)n;
  ::usleep(20000);
  ::close(fd);
}

TEST(DaemonTest, GarbageOnTheSocketDoesNotCrash) {
  CrispdFixture crispd;
  send_and_close(crispd.socket(), "GET / HTTP/1.1\r\nHost: x\r\n\r\n");
  send_and_close(crispd.socket(), std::string(4096, '\xff'));
  send_and_close(crispd.socket(), std::string("\0\0\0\0", 4));
  // HTTP/2 preface, then a SETTINGS frame header that promises 64 KiB and stops.
  std::string preface = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
  send_and_close(crispd.socket(), preface + std::string("\x00\xff\xff\x04\x00\x00\x00\x00\x00", 9));
  // A HEADERS frame claiming a huge length on stream 1.
  send_and_close(crispd.socket(), preface + std::string("\x00\x00\x00\x04\x00\x00\x00\x00\x00", 9) +
                                      std::string("\xff\xff\xff\x01\x04\x00\x00\x00\x01", 9) + "abc");
  EXPECT_TRUE(crispd.running());
  EXPECT_TRUE(version_ok(crispd)) << crispd.log();
}

TEST(DaemonTest, VersionFlagAndDefaultConfig) {
  auto [rc, out] = run(build_path("crispd") + " --version");
  EXPECT_EQ(rc, 0);
  EXPECT_NE(out.find("crispd "), std::string::npos) << out;
  std::tie(rc, out) = run(build_path("crispd") + " config default");
  EXPECT_EQ(rc, 0);
  EXPECT_NE(out.find("socket = '/run/crisp/crisp.sock'"), std::string::npos) << out;
  EXPECT_NE(out.find("[image]"), std::string::npos) << out;
}

TEST(DaemonTest, BadConfigRefusedWithFileAndLine) {
  CrispdOptions opts;
  opts.config_toml = "log_level = \"info\"\nbogus_key = true\n";
  opts.start = false;
  CrispdFixture crispd(opts);
  auto [rc, out] = run(join(crispd.command()));
  EXPECT_EQ(rc, 1);
  EXPECT_NE(out.find("crisp.toml:2"), std::string::npos) << out;
  EXPECT_NE(out.find("bogus_key"), std::string::npos) << out;
}

}  // namespace
}  // namespace crisp::test
