// The streaming server end to end with a host backend (tests/integration/streaming/host_backend.h)
// and the project's own SPDY and WebSocket clients, one test per protocol path and per bad input.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <filesystem>
#include <thread>

#include "cri/streaming/server.h"
#include "tests/integration/streaming/host_backend.h"
#include "tests/integration/streaming/spdy_client.h"
#include "tests/integration/streaming/websocket_client.h"

namespace crisp::streaming::testing {
namespace {

using ::testing::HasSubstr;

const char* const kBusybox = "/bin/busybox";

std::vector<std::string> sh(const std::string& script) { return {kBusybox, "sh", "-c", script}; }

class StreamingServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ServerOptions options;
    options.stream_creation_timeout = std::chrono::seconds(5);
    server_ = std::make_unique<Server>(options, backend_);
    server_->start();
  }
  void TearDown() override { server_->stop(); }

  std::string exec_url(std::vector<std::string> cmd, bool stdin, bool tty) {
    ExecSpec spec;
    spec.container_id = "c";
    spec.cmd = std::move(cmd);
    spec.stdin = stdin;
    spec.stdout = true;
    spec.stderr = !tty;
    spec.tty = tty;
    return server_->exec_url(spec);
  }

  // Streams in the order kubectl opens them: error, stdin, stdout, stderr, resize.
  struct Streams {
    uint32_t error = 0, stdin = 0, stdout = 0, stderr = 0, resize = 0;
  };
  Streams open_exec_streams(SpdyClient& client, bool stdin, bool tty) {
    Streams s;
    s.error = client.open_stream({{"streamType", "error"}});
    if (stdin) s.stdin = client.open_stream({{"streamType", "stdin"}});
    s.stdout = client.open_stream({{"streamType", "stdout"}});
    if (!tty) s.stderr = client.open_stream({{"streamType", "stderr"}});
    if (tty) s.resize = client.open_stream({{"streamType", "resize"}});
    return s;
  }

  bool wait_gone(pid_t pid, int timeout_ms = 5000) {
    for (int i = 0; i < timeout_ms / 20; ++i) {
      if (process_gone(pid)) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return false;
  }

  HostBackend backend_;
  std::unique_ptr<Server> server_;
};

TEST_F(StreamingServerTest, SpdyExecCarriesOutputAndNonZeroExitCode) {
  SpdyClient client;
  ASSERT_EQ(client.upgrade(exec_url(sh("echo out; echo err >&2; exit 3"), false, false),
                           {"v4.channel.k8s.io", "v3.channel.k8s.io"}),
            101);
  EXPECT_EQ(client.negotiated(), "v4.channel.k8s.io");
  Streams s = open_exec_streams(client, false, false);
  ASSERT_TRUE(client.wait_fin(s.error));
  ASSERT_TRUE(client.wait_fin(s.stdout));
  EXPECT_EQ(client.data(s.stdout), "out\n");
  EXPECT_EQ(client.data(s.stderr), "err\n");
  EXPECT_EQ(client.data(s.error),
            R"({"metadata":{},"status":"Failure","message":"command terminated with non-zero exit code: )"
            R"(error executing command [/bin/busybox sh -c echo out; echo err >&2; exit 3], exit code 3",)"
            R"("reason":"NonZeroExitCode","details":{"causes":[{"reason":"ExitCode","message":"3"}]}})");
  EXPECT_TRUE(client.wait_closed());
}

TEST_F(StreamingServerTest, SpdyExecStreamsStdinToCat) {
  SpdyClient client;
  ASSERT_EQ(client.upgrade(exec_url({kBusybox, "cat"}, true, false), {"v4.channel.k8s.io"}), 101);
  Streams s = open_exec_streams(client, true, false);
  client.send(s.stdin, "hello ");
  client.send(s.stdin, "world\n", true);  // FIN: end of input
  ASSERT_TRUE(client.wait_fin(s.error));
  EXPECT_EQ(client.data(s.stdout), "hello world\n");
  EXPECT_EQ(client.data(s.error), R"({"metadata":{},"status":"Success"})");
}

TEST_F(StreamingServerTest, SpdyExecWithTtyAppliesResize) {
  SpdyClient client;
  ASSERT_EQ(client.upgrade(exec_url(sh("read line; stty size"), true, true), {"v4.channel.k8s.io"}), 101);
  Streams s = open_exec_streams(client, true, true);
  client.send(s.resize, R"({"Width":123,"Height":45})");
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  client.send(s.stdin, "go\n");
  ASSERT_TRUE(client.wait_fin(s.error));
  EXPECT_THAT(client.data(s.stdout), HasSubstr("45 123"));
  EXPECT_EQ(client.data(s.error), R"({"metadata":{},"status":"Success"})");
}

TEST_F(StreamingServerTest, SpdyTtyStartsWithTheClientsInitialSize) {
  SpdyClient client;
  ASSERT_EQ(client.upgrade(exec_url({kBusybox, "stty", "size"}, true, true), {"v4.channel.k8s.io"}), 101);
  Streams s = open_exec_streams(client, true, true);
  client.send(s.resize, R"({"Width":77,"Height":31})");  // as crictl does right after the streams
  ASSERT_TRUE(client.wait_fin(s.error));
  EXPECT_THAT(client.data(s.stdout), HasSubstr("31 77"));
}

TEST_F(StreamingServerTest, SpdyTtyWithoutResizeStillStarts) {
  SpdyClient client;
  ASSERT_EQ(client.upgrade(exec_url(sh("echo started"), false, true), {"v4.channel.k8s.io"}), 101);
  Streams s = open_exec_streams(client, false, true);
  ASSERT_TRUE(client.wait_fin(s.error));
  EXPECT_THAT(client.data(s.stdout), HasSubstr("started"));
}

TEST_F(StreamingServerTest, SpdyOlderProtocolsReportTheErrorAsText) {
  SpdyClient client;
  ASSERT_EQ(client.upgrade(exec_url(sh("exit 2"), false, false), {"v2.channel.k8s.io"}), 101);
  EXPECT_EQ(client.negotiated(), "v2.channel.k8s.io");
  Streams s = open_exec_streams(client, false, false);
  ASSERT_TRUE(client.wait_fin(s.error));
  EXPECT_THAT(client.data(s.error), HasSubstr("command terminated with non-zero exit code"));
  EXPECT_THAT(client.data(s.error), HasSubstr("exit code 2"));
}

TEST_F(StreamingServerTest, SpdyUnsupportedProtocolIsRefused) {
  SpdyClient client;
  EXPECT_EQ(client.upgrade(exec_url(sh("true"), false, false), {"v9.channel.k8s.io"}), 403);
}

TEST_F(StreamingServerTest, SpdyAttach) {
  AttachSpec spec;
  spec.container_id = "c";
  spec.stdout = true;
  spec.stderr = true;
  SpdyClient client;
  ASSERT_EQ(client.upgrade(server_->attach_url(spec), {"v4.channel.k8s.io"}), 101);
  Streams s = open_exec_streams(client, false, false);
  ASSERT_TRUE(client.wait_fin(s.error));
  EXPECT_EQ(client.data(s.stdout), "attached\nbye\n");
}

TEST_F(StreamingServerTest, WebSocketV5ExecClosesStdinWithTheCloseSignal) {
  WebSocketClient client;
  EXPECT_EQ(client.connect(exec_url({kBusybox, "cat"}, true, false), {"v5.channel.k8s.io", "v4.channel.k8s.io"}),
            "v5.channel.k8s.io");
  client.send(0, "hi there\n");
  client.send_raw(std::string("\xff\x00", 2));  // v5: close stdin
  auto channels = by_channel(client.read_all());
  EXPECT_EQ(channels[1], "hi there\n");
  EXPECT_EQ(channels[3], R"({"metadata":{},"status":"Success"})");
}

TEST_F(StreamingServerTest, WebSocketV4ExitCodeAndStderr) {
  WebSocketClient client;
  EXPECT_EQ(client.connect(exec_url(sh("echo e >&2; exit 7"), false, false), {"v4.channel.k8s.io"}),
            "v4.channel.k8s.io");
  auto messages = client.read_all();
  ASSERT_FALSE(messages.empty());
  EXPECT_EQ(messages[0], std::string(1, '\x01'));  // the empty "ready" message on stdout
  auto channels = by_channel(messages);
  EXPECT_EQ(channels[2], "e\n");
  EXPECT_THAT(channels[3], HasSubstr(R"("reason":"NonZeroExitCode")"));
  EXPECT_THAT(channels[3], HasSubstr(R"({"reason":"ExitCode","message":"7"})"));
}

TEST_F(StreamingServerTest, WebSocketBase64Exec) {
  WebSocketClient client;
  EXPECT_EQ(client.connect(exec_url(sh("echo base64"), false, false), {"base64.channel.k8s.io"}),
            "base64.channel.k8s.io");
  auto channels = by_channel(client.read_all(), true);
  EXPECT_EQ(channels[1], "base64\n");
  EXPECT_EQ(channels[3], "");  // the unversioned protocol writes nothing on success
}

TEST_F(StreamingServerTest, WebSocketTtyResize) {
  WebSocketClient client;
  client.connect(exec_url(sh("read line; stty size"), true, true), {"v4.channel.k8s.io"});
  client.send(4, R"({"Width":99,"Height":33})");
  client.send(0, "go\n");
  auto channels = by_channel(client.read_all());
  EXPECT_THAT(channels[1], HasSubstr("33 99"));
}

// A TCP listener on 127.0.0.1 answering "echo:<data>" on each connection.
class EchoListener {
 public:
  EchoListener() {
    fd_.reset(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ::bind(fd_.get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
    ::listen(fd_.get(), 16);
    socklen_t len = sizeof(addr);
    ::getsockname(fd_.get(), reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
    thread_ = std::thread([this] {
      for (;;) {
        int c = ::accept4(fd_.get(), nullptr, nullptr, SOCK_CLOEXEC);
        if (c < 0) return;
        char buf[4096];
        ssize_t n;
        while ((n = ::read(c, buf, sizeof(buf))) > 0) {
          std::string reply = "echo:" + std::string(buf, static_cast<size_t>(n));
          if (::write(c, reply.data(), reply.size()) < 0) break;
        }
        ::close(c);
      }
    });
  }
  ~EchoListener() {
    ::shutdown(fd_.get(), SHUT_RDWR);
    thread_.join();
  }
  uint16_t port() const { return port_; }

 private:
  UniqueFd fd_;
  uint16_t port_ = 0;
  std::thread thread_;
};

TEST_F(StreamingServerTest, SpdyPortForward) {
  EchoListener echo;
  PortForwardSpec spec;
  spec.sandbox_id = "pod";
  SpdyClient client;
  ASSERT_EQ(client.upgrade(server_->port_forward_url(spec), {"portforward.k8s.io"}), 101);
  std::string port = std::to_string(echo.port());
  uint32_t error = client.open_stream({{"streamType", "error"}, {"port", port}, {"requestID", "0"}});
  uint32_t data = client.open_stream({{"streamType", "data"}, {"port", port}, {"requestID", "0"}});
  client.send(data, "ping");
  ASSERT_TRUE(client.wait_data(data, 9));
  EXPECT_EQ(client.data(data), "echo:ping");
  client.send(data, "", true);  // half-close: the target sees EOF and closes
  ASSERT_TRUE(client.wait_fin(data));
  EXPECT_EQ(client.data(error), "");

  // A second forwarded connection on the same SPDY connection, to a closed port: error stream.
  uint32_t error2 = client.open_stream({{"streamType", "error"}, {"port", "1"}, {"requestID", "1"}});
  client.open_stream({{"streamType", "data"}, {"port", "1"}, {"requestID", "1"}});
  ASSERT_TRUE(client.wait_fin(error2));
  EXPECT_THAT(client.data(error2), HasSubstr("error forwarding port 1"));
}

TEST_F(StreamingServerTest, WebSocketPortForward) {
  EchoListener echo;
  PortForwardSpec spec;
  spec.sandbox_id = "pod";
  std::string url = server_->port_forward_url(spec) + "?ports=" + std::to_string(echo.port());
  WebSocketClient client;
  EXPECT_EQ(client.connect(url, {"v4.channel.k8s.io"}), "v4.channel.k8s.io");
  std::string port_bytes{static_cast<char>(echo.port() & 0xff), static_cast<char>(echo.port() >> 8)};
  EXPECT_EQ(client.read_one(), std::string(1, '\0') + port_bytes);
  EXPECT_EQ(client.read_one(), std::string(1, '\1') + port_bytes);
  client.send(0, "ping");
  EXPECT_EQ(client.read_one(), std::string(1, '\0') + "echo:ping");
  client.close();
}

TEST_F(StreamingServerTest, TokensAreSingleUse) {
  std::string url = exec_url(sh("true"), false, false);
  {
    SpdyClient client;
    ASSERT_EQ(client.upgrade(url, {"v4.channel.k8s.io"}), 101);
  }
  SpdyClient again;
  EXPECT_EQ(again.upgrade(url, {"v4.channel.k8s.io"}), 404);
  SpdyClient unknown;
  EXPECT_EQ(unknown.upgrade(server_->base_url() + "/exec/0123456789abcdef0123456789abcdef", {"v4.channel.k8s.io"}),
            404);
}

TEST(StreamingServerTokens, ExpiredTokenIs404) {
  HostBackend backend;
  ServerOptions options;
  options.token_timeout = std::chrono::milliseconds(50);
  Server server(options, backend);
  server.start();
  ExecSpec spec;
  spec.cmd = {"/bin/true"};
  spec.stdout = true;
  std::string url = server.exec_url(spec);
  std::this_thread::sleep_for(std::chrono::milliseconds(120));
  SpdyClient client;
  EXPECT_EQ(client.upgrade(url, {"v4.channel.k8s.io"}), 404);
}

TEST_F(StreamingServerTest, GarbageIs400) {
  EXPECT_EQ(raw_http_status(server_->base_url(), "GARBAGE\x01\x02 nonsense\r\n\r\n"), 400);
  std::string url = exec_url(sh("true"), false, false);
  HttpUrl u = parse_url(url);
  EXPECT_EQ(raw_http_status(url, "GET " + u.target + " HTTP/1.1\r\nHost: x\r\n\r\n"), 400);
  std::string url2 = exec_url(sh("true"), false, false);
  EXPECT_EQ(raw_http_status(url2, "GET " + parse_url(url2).target +
                                      " HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: h2c\r\n\r\n"),
            400);
}

TEST_F(StreamingServerTest, HugeFrameClosesOnlyThatSession) {
  SpdyClient client;
  ASSERT_EQ(client.upgrade(exec_url(sh("sleep 30"), true, false), {"v4.channel.k8s.io"}), 101);
  open_exec_streams(client, true, false);
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  auto pids = backend_.started();
  ASSERT_EQ(pids.size(), 1u);
  client.send_raw(std::string("\x00\x00\x00\x03\x00\xff\xff\xff", 8));  // a data frame claiming 16 MiB
  EXPECT_TRUE(client.wait_closed(5000));
  EXPECT_TRUE(wait_gone(pids[0]));

  SpdyClient next;  // the server keeps serving
  ASSERT_EQ(next.upgrade(exec_url(sh("echo still here"), false, false), {"v4.channel.k8s.io"}), 101);
  Streams s = open_exec_streams(next, false, false);
  ASSERT_TRUE(next.wait_fin(s.error));
  EXPECT_EQ(next.data(s.stdout), "still here\n");

  WebSocketClient ws;  // and a WebSocket message over the limit closes that session too
  ws.connect(exec_url(sh("sleep 30"), true, false), {"v4.channel.k8s.io"});
  ws.send(0, std::string(2 << 20, 'x'));
  ws.read_all();
  auto after = backend_.started();
  ASSERT_EQ(after.size(), 3u);
  EXPECT_TRUE(wait_gone(after[2]));
}

TEST_F(StreamingServerTest, ClientDisconnectEndsTheExec) {
  SpdyClient client;
  ASSERT_EQ(client.upgrade(exec_url(sh("sleep 30"), false, false), {"v4.channel.k8s.io"}), 101);
  open_exec_streams(client, false, false);
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  auto pids = backend_.started();
  ASSERT_EQ(pids.size(), 1u);
  client.close();
  EXPECT_TRUE(wait_gone(pids[0]));
}

TEST(StreamingServerSlowReader, LosesItsSessionAndItsExec) {
  HostBackend backend;
  ServerOptions options;
  options.write_timeout = std::chrono::milliseconds(300);
  options.output_buffer_limit = 64 * 1024;
  Server server(options, backend);
  server.start();
  ExecSpec spec;
  spec.cmd = {kBusybox, "yes"};
  spec.stdout = true;
  spec.stderr = true;
  SpdyClient client;
  ASSERT_EQ(client.upgrade(server.exec_url(spec), {"v4.channel.k8s.io"}, false), 101);
  client.open_stream({{"streamType", "error"}});
  client.open_stream({{"streamType", "stdout"}});
  client.open_stream({{"streamType", "stderr"}});
  pid_t pid = 0;
  for (int i = 0; i < 100 && backend.started().empty(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  ASSERT_EQ(backend.started().size(), 1u);
  pid = backend.started()[0];
  bool gone = false;
  for (int i = 0; i < 500 && !gone; ++i) {  // buffers fill, then the write stalls for 300 ms
    gone = process_gone(pid);
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_TRUE(gone);
  for (int i = 0; i < 100 && server.active_connections() > 0; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_EQ(server.active_connections(), 0u);
}

TEST_F(StreamingServerTest, StopEndsActiveSessions) {
  SpdyClient client;
  ASSERT_EQ(client.upgrade(exec_url(sh("sleep 30"), false, false), {"v4.channel.k8s.io"}), 101);
  open_exec_streams(client, false, false);
  for (int i = 0; i < 100 && backend_.started().empty(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  ASSERT_EQ(backend_.started().size(), 1u);
  auto begin = std::chrono::steady_clock::now();
  server_->stop();
  EXPECT_LT(std::chrono::steady_clock::now() - begin, std::chrono::seconds(5));
  EXPECT_TRUE(wait_gone(backend_.started()[0]));
  EXPECT_TRUE(client.wait_closed());
}

size_t open_fds() {
  size_t n = 0;
  for (const auto& entry : std::filesystem::directory_iterator("/proc/self/fd")) {
    (void)entry;
    ++n;
  }
  return n;
}

TEST_F(StreamingServerTest, SessionsLeaveNoFileDescriptorsBehind) {
  auto settle = [&] {
    for (int i = 0; i < 250 && server_->active_connections() > 0; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  };
  size_t before = open_fds();
  for (int i = 0; i < 3; ++i) {
    {
      SpdyClient client;
      ASSERT_EQ(client.upgrade(exec_url({kBusybox, "cat"}, true, false), {"v4.channel.k8s.io"}), 101);
      Streams s = open_exec_streams(client, true, false);
      client.send(s.stdin, "x", true);
      ASSERT_TRUE(client.wait_fin(s.error));
    }
    {
      SpdyClient client;  // leaves in the middle
      ASSERT_EQ(client.upgrade(exec_url(sh("sleep 30"), false, true), {"v4.channel.k8s.io"}), 101);
      open_exec_streams(client, false, true);
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    {
      WebSocketClient ws;
      ws.connect(exec_url(sh("echo hi"), false, false), {"v4.channel.k8s.io"});
      ws.read_all();
    }
  }
  settle();
  EXPECT_EQ(server_->active_connections(), 0u);
  EXPECT_EQ(open_fds(), before);
}

TEST_F(StreamingServerTest, StreamsNotOpenedInTimeCloseTheSession) {
  SpdyClient client;
  ASSERT_EQ(client.upgrade(exec_url(sh("true"), false, false), {"v4.channel.k8s.io"}), 101);
  client.open_stream({{"streamType", "error"}});  // and never the others
  EXPECT_TRUE(client.wait_closed(8000));
  EXPECT_TRUE(backend_.started().empty());
}

TEST_F(StreamingServerTest, ManyConcurrentSessions) {
  constexpr int kSessions = 24;
  std::atomic<int> ok{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < kSessions; ++i) {
    std::string url = exec_url(sh("echo session " + std::to_string(i)), false, false);
    threads.emplace_back([&, url, i] {
      SpdyClient client;
      if (client.upgrade(url, {"v4.channel.k8s.io"}) != 101) return;
      Streams s = open_exec_streams(client, false, false);
      if (client.wait_fin(s.error) && client.data(s.stdout) == "session " + std::to_string(i) + "\n") ++ok;
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(ok, kSessions);
}

}  // namespace
}  // namespace crisp::streaming::testing
