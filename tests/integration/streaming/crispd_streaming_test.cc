// Exec, Attach and PortForward through a real crispd: the RPCs hand out URLs, the project's SPDY and
// WebSocket clients use them against busybox containers; then crictl (when built at
// $CRICTL or /var/tmp/cri-tools/bin/crictl) runs `exec`, `exec -it`, `attach` and `port-forward`.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdio>
#include <thread>

#include "tests/integration/streaming/spdy_client.h"
#include "tests/integration/streaming/websocket_client.h"
#include "tests/support/crispd_fixture.h"
#include "tests/support/standard_images_suite.h"
#include "tests/support/registry_fixture.h"
#include "tests/support/test_images.h"

namespace crisp::test {
namespace {

namespace v1 = ::runtime::v1;
using namespace std::chrono_literals;
using streaming::testing::SpdyClient;
using streaming::testing::WebSocketClient;
using ::testing::HasSubstr;

constexpr int kEchoPort = 8080;

std::string crictl_path() {
  const char* env = std::getenv("CRICTL");
  std::string path = env ? env : "/var/tmp/cri-tools/bin/crictl";
  return ::access(path.c_str(), X_OK) == 0 ? path : "";
}

// Runs a shell command line, returns its exit status and output (stdout+stderr).
int run(const std::string& command, std::string* output) {
  FILE* pipe = ::popen((command + " 2>&1").c_str(), "r");
  if (!pipe) return -1;
  char buf[4096];
  size_t n;
  output->clear();
  while ((n = ::fread(buf, 1, sizeof(buf), pipe)) > 0) output->append(buf, n);
  int status = ::pclose(pipe);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

class CrispdStreamingTest : public StandardImagesSuite {
 protected:
  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "needs root";
    CrispdOptions options;
    options.config_toml = "[runtime]\nmonitor_path = \"" + build_path("crisp-monitor") + "\"\n";
    crispd_ = std::make_unique<CrispdFixture>(options);
    v1::PullImageRequest pull;
    pull.mutable_image()->set_image(images_->busybox.ref);
    v1::PullImageResponse pulled;
    auto ctx = client_context(60s);
    auto status = crispd_->images().PullImage(ctx.get(), pull, &pulled);
    ASSERT_TRUE(status.ok()) << status.error_message();

    v1::RunPodSandboxRequest runp;
    auto* pod = runp.mutable_config();
    pod->mutable_metadata()->set_name("streaming");
    pod->mutable_metadata()->set_uid("uid-streaming");
    pod->mutable_metadata()->set_namespace_("default");
    pod->set_log_directory(crispd_->dir() + "/logs");
    v1::RunPodSandboxResponse ran;
    auto c1 = client_context();
    status = crispd_->runtime().RunPodSandbox(c1.get(), runp, &ran);
    ASSERT_TRUE(status.ok()) << status.error_message();
    pod_ = ran.pod_sandbox_id();
    pod_config_ = *pod;

    ticker_ = start("ticker", {"sh", "-c", "i=0; while true; do echo tick $i; i=$((i+1)); sleep 0.2; done"});
    // nc itself is the container's init ("-ll": keeps listening), so stopping it leaves no orphans.
    echo_ = start("echo", {"nc", "-ll", "-p", std::to_string(kEchoPort), "-e", "/bin/cat"});
  }

  void TearDown() override {
    if (crispd_ && crispd_->running() && !pod_.empty()) {
      v1::RemovePodSandboxRequest req;
      req.set_pod_sandbox_id(pod_);
      v1::RemovePodSandboxResponse resp;
      auto ctx = client_context();
      auto status = crispd_->runtime().RemovePodSandbox(ctx.get(), req, &resp);
      EXPECT_TRUE(status.ok()) << status.error_message();
    }
    crispd_.reset();
  }

  std::string start(const std::string& name, const std::vector<std::string>& command, bool stdin = false,
                    bool tty = false) {
    v1::CreateContainerRequest req;
    req.set_pod_sandbox_id(pod_);
    *req.mutable_sandbox_config() = pod_config_;
    auto* c = req.mutable_config();
    c->mutable_metadata()->set_name(name);
    c->mutable_image()->set_image(images_->busybox.ref);
    for (const auto& arg : command) c->add_command(arg);
    c->set_log_path(name + ".log");
    c->set_stdin(stdin);
    c->set_tty(tty);
    v1::CreateContainerResponse created;
    auto ctx = client_context();
    auto status = crispd_->runtime().CreateContainer(ctx.get(), req, &created);
    EXPECT_TRUE(status.ok()) << status.error_message();
    v1::StartContainerRequest sreq;
    sreq.set_container_id(created.container_id());
    v1::StartContainerResponse sresp;
    auto c2 = client_context();
    status = crispd_->runtime().StartContainer(c2.get(), sreq, &sresp);
    EXPECT_TRUE(status.ok()) << status.error_message();
    return created.container_id();
  }

  grpc::Status exec(const std::string& id, const std::vector<std::string>& cmd, bool stdin, bool tty, bool stderr,
                    std::string* url) {
    v1::ExecRequest req;
    req.set_container_id(id);
    for (const auto& a : cmd) req.add_cmd(a);
    req.set_stdin(stdin);
    req.set_stdout(true);
    req.set_stderr(stderr);
    req.set_tty(tty);
    v1::ExecResponse resp;
    auto ctx = client_context();
    auto status = crispd_->runtime().Exec(ctx.get(), req, &resp);
    *url = resp.url();
    return status;
  }

  std::string exec_url(const std::vector<std::string>& cmd, bool stdin = false, bool tty = false) {
    std::string url;
    auto status = exec(ticker_, cmd, stdin, tty, !tty, &url);
    EXPECT_TRUE(status.ok()) << status.error_message();
    return url;
  }

  std::string crictl(const std::string& args) {
    return crictl_path() + " --runtime-endpoint " + crispd_->endpoint() + " --image-endpoint " +
           crispd_->endpoint() + " --timeout 20s " + args;
  }

  std::unique_ptr<CrispdFixture> crispd_;
  std::string pod_;
  v1::PodSandboxConfig pod_config_;
  std::string ticker_, echo_;
};


TEST_F(CrispdStreamingTest, ExecValidatesTheRequest) {
  std::string url;
  EXPECT_EQ(exec("no-such-container", {"true"}, false, false, true, &url).error_code(), grpc::StatusCode::NOT_FOUND);
  v1::ExecRequest none;
  none.set_container_id(ticker_);
  none.add_cmd("true");
  v1::ExecResponse resp;
  auto ctx = client_context();
  EXPECT_EQ(crispd_->runtime().Exec(ctx.get(), none, &resp).error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(exec(ticker_, {"true"}, false, true, true, &url).error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  ASSERT_TRUE(exec(ticker_, {"true"}, false, false, true, &url).ok());
  EXPECT_THAT(url, ::testing::StartsWith("http://127.0.0.1:"));
  EXPECT_THAT(url, HasSubstr("/exec/"));
}

TEST_F(CrispdStreamingTest, SpdyExecInTheContainer) {
  SpdyClient client;
  ASSERT_EQ(client.upgrade(exec_url({"sh", "-c", "echo $HOSTNAME-out; cat /etc/hostname >/dev/null; exit 3"}),
                           {"v4.channel.k8s.io"}),
            101);
  uint32_t error = client.open_stream({{"streamType", "error"}});
  uint32_t out = client.open_stream({{"streamType", "stdout"}});
  client.open_stream({{"streamType", "stderr"}});
  ASSERT_TRUE(client.wait_fin(error, 20000));
  EXPECT_THAT(client.data(out), HasSubstr("-out"));
  EXPECT_THAT(client.data(error), HasSubstr(R"({"reason":"ExitCode","message":"3"})"));
}

TEST_F(CrispdStreamingTest, SpdyExecStdinToCat) {
  SpdyClient client;
  ASSERT_EQ(client.upgrade(exec_url({"cat"}, true), {"v4.channel.k8s.io"}), 101);
  uint32_t error = client.open_stream({{"streamType", "error"}});
  uint32_t in = client.open_stream({{"streamType", "stdin"}});
  uint32_t out = client.open_stream({{"streamType", "stdout"}});
  client.open_stream({{"streamType", "stderr"}});
  client.send(in, "through the container\n", true);
  ASSERT_TRUE(client.wait_fin(error, 20000));
  EXPECT_EQ(client.data(out), "through the container\n");
  EXPECT_EQ(client.data(error), R"({"metadata":{},"status":"Success"})");
}

TEST_F(CrispdStreamingTest, SpdyExecWithTtyAndResize) {
  SpdyClient client;
  ASSERT_EQ(client.upgrade(exec_url({"sh", "-c", "read line; stty size"}, true, true), {"v4.channel.k8s.io"}), 101);
  uint32_t error = client.open_stream({{"streamType", "error"}});
  uint32_t in = client.open_stream({{"streamType", "stdin"}});
  uint32_t out = client.open_stream({{"streamType", "stdout"}});
  uint32_t resize = client.open_stream({{"streamType", "resize"}});
  client.send(resize, R"({"Width":91,"Height":27})");
  std::this_thread::sleep_for(300ms);
  client.send(in, "go\n");
  ASSERT_TRUE(client.wait_fin(error, 20000));
  EXPECT_THAT(client.data(out), HasSubstr("27 91"));
}

TEST_F(CrispdStreamingTest, WebSocketExec) {
  WebSocketClient client;
  EXPECT_EQ(client.connect(exec_url({"cat"}, true), {"v5.channel.k8s.io"}), "v5.channel.k8s.io");
  client.send(0, "ws\n");
  client.send_raw(std::string("\xff\x00", 2));
  auto channels = streaming::testing::by_channel(client.read_all());
  EXPECT_EQ(channels[1], "ws\n");
  EXPECT_EQ(channels[3], R"({"metadata":{},"status":"Success"})");
}

TEST_F(CrispdStreamingTest, AttachToAContainerWritingOutput) {
  v1::AttachRequest req;
  req.set_container_id(ticker_);
  req.set_stdout(true);
  req.set_stderr(true);
  v1::AttachResponse resp;
  auto ctx = client_context();
  auto status = crispd_->runtime().Attach(ctx.get(), req, &resp);
  ASSERT_TRUE(status.ok()) << status.error_message();
  SpdyClient client;
  ASSERT_EQ(client.upgrade(resp.url(), {"v4.channel.k8s.io"}), 101);
  client.open_stream({{"streamType", "error"}});
  uint32_t out = client.open_stream({{"streamType", "stdout"}});
  client.open_stream({{"streamType", "stderr"}});
  ASSERT_TRUE(client.wait_data(out, 20, 10000));
  EXPECT_THAT(client.data(out), HasSubstr("tick"));
  client.close();  // leaving an attach leaves the container running
  std::this_thread::sleep_for(300ms);
  v1::ContainerStatusRequest sreq;
  sreq.set_container_id(ticker_);
  v1::ContainerStatusResponse sresp;
  auto c2 = client_context();
  ASSERT_TRUE(crispd_->runtime().ContainerStatus(c2.get(), sreq, &sresp).ok());
  EXPECT_EQ(sresp.status().state(), v1::CONTAINER_RUNNING);
}

TEST_F(CrispdStreamingTest, AttachWithStdin) {
  std::string cat = start("cat", {"cat"}, /*stdin=*/true);
  v1::AttachRequest req;
  req.set_container_id(cat);
  req.set_stdin(true);
  req.set_stdout(true);
  req.set_stderr(true);
  v1::AttachResponse resp;
  auto ctx = client_context();
  auto status = crispd_->runtime().Attach(ctx.get(), req, &resp);
  ASSERT_TRUE(status.ok()) << status.error_message();
  SpdyClient client;
  ASSERT_EQ(client.upgrade(resp.url(), {"v4.channel.k8s.io"}), 101);
  client.open_stream({{"streamType", "error"}});
  uint32_t in = client.open_stream({{"streamType", "stdin"}});
  uint32_t out = client.open_stream({{"streamType", "stdout"}});
  client.open_stream({{"streamType", "stderr"}});
  client.send(in, "typed into the container\n");
  ASSERT_TRUE(client.wait_data(out, 25, 10000));
  EXPECT_EQ(client.data(out), "typed into the container\n");
}

TEST_F(CrispdStreamingTest, ClientDisconnectEndsTheExecInTheContainer) {
  auto ps = [&] {
    v1::ExecSyncRequest req;
    req.set_container_id(ticker_);
    req.add_cmd("ps");
    v1::ExecSyncResponse resp;
    auto ctx = client_context();
    EXPECT_TRUE(crispd_->runtime().ExecSync(ctx.get(), req, &resp).ok());
    return resp.stdout();
  };
  {
    SpdyClient client;
    ASSERT_EQ(client.upgrade(exec_url({"sleep", "4242"}), {"v4.channel.k8s.io"}), 101);
    client.open_stream({{"streamType", "error"}});
    client.open_stream({{"streamType", "stdout"}});
    client.open_stream({{"streamType", "stderr"}});
    std::this_thread::sleep_for(500ms);
    ASSERT_THAT(ps(), HasSubstr("sleep 4242"));  // running in the container while attached
  }  // the client leaves
  std::string listing;
  for (int i = 0; i < 50; ++i) {
    listing = ps();
    if (listing.find("sleep 4242") == std::string::npos) break;
    std::this_thread::sleep_for(100ms);
  }
  EXPECT_THAT(listing, ::testing::Not(HasSubstr("sleep 4242")));
}

TEST_F(CrispdStreamingTest, PortForwardIntoThePod) {
  v1::PortForwardRequest req;
  req.set_pod_sandbox_id(pod_);
  req.add_port(kEchoPort);
  v1::PortForwardResponse resp;
  auto ctx = client_context();
  auto status = crispd_->runtime().PortForward(ctx.get(), req, &resp);
  ASSERT_TRUE(status.ok()) << status.error_message();
  SpdyClient client;
  ASSERT_EQ(client.upgrade(resp.url(), {"portforward.k8s.io"}), 101);
  std::string port = std::to_string(kEchoPort);
  uint32_t error = 0, data = 0;
  for (int attempt = 0; attempt < 50; ++attempt) {  // until nc listens
    std::string rid = std::to_string(attempt);
    error = client.open_stream({{"streamType", "error"}, {"port", port}, {"requestID", rid}});
    data = client.open_stream({{"streamType", "data"}, {"port", port}, {"requestID", rid}});
    client.send(data, "hello pod\n");
    client.wait_data(data, 10, 1000);
    if (client.data(data) == "hello pod\n") break;
    std::this_thread::sleep_for(100ms);
  }
  EXPECT_EQ(client.data(data), "hello pod\n");
  EXPECT_EQ(client.data(error), "");
}

TEST_F(CrispdStreamingTest, Crictl) {
  std::string path = crictl_path();
  if (path.empty()) GTEST_SKIP() << "crictl not built";
  std::string out;
  EXPECT_EQ(run(crictl("exec " + ticker_ + " echo hello from crictl"), &out), 0) << out;
  EXPECT_EQ(out, "hello from crictl\n");
  // crictl turns the Status' ExitCode cause into "command terminated with exit code 3" (and exits 1).
  EXPECT_NE(run(crictl("exec " + ticker_ + " sh -c 'exit 3'"), &out), 0) << out;
  EXPECT_THAT(out, HasSubstr("command terminated with exit code 3"));
  EXPECT_EQ(run("echo piped | " + crictl("exec -i " + ticker_ + " cat"), &out), 0) << out;
  EXPECT_EQ(out, "piped\n");
  // -it needs a terminal: script(1) gives crictl one.
  EXPECT_EQ(run("timeout 20 script -qec \"stty rows 31 cols 77; " + crictl("exec -it " + ticker_ + " sh -c 'stty size'") +
                    "\" /dev/null < /dev/null", &out), 0) << out;
  EXPECT_THAT(out, HasSubstr("31 77"));
  // attach follows the ticker until killed.
  run("timeout -s INT 2 " + crictl("attach " + ticker_), &out);
  EXPECT_THAT(out, HasSubstr("tick"));
  // port-forward: a local port to the pod's nc.
  pid_t pf = ::fork();
  if (pf == 0) {
    std::string cmd = crictl("port-forward " + pod_ + " 18080:" + std::to_string(kEchoPort)) + " >/dev/null 2>&1";
    ::execl("/bin/sh", "sh", "-c", ("exec " + cmd).c_str(), nullptr);
    ::_exit(127);
  }
  std::string reply;
  for (int attempt = 0; attempt < 50 && reply != "via crictl\n"; ++attempt) {
    std::this_thread::sleep_for(200ms);
    run("echo 'via crictl' | timeout 3 busybox nc 127.0.0.1 18080", &reply);
  }
  ::kill(pf, SIGINT);
  ::waitpid(pf, nullptr, 0);
  EXPECT_EQ(reply, "via crictl\n");
}

}  // namespace
}  // namespace crisp::test
