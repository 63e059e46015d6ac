// crispd --metrics-address: GET /metrics over loopback in the Prometheus text format 0.0.4, with
// RPC counters that move with the calls the test makes, pull metrics from a private registry,
// and the runtime and process gauges.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cctype>
#include <cmath>
#include <ctime>
#include <map>
#include <regex>
#include <sstream>

#include "runtime/base/unique_fd.h"
#include "tests/support/crispd_fixture.h"
#include "tests/support/oci_builder.h"
#include "tests/support/registry_fixture.h"
#include "tests/support/test_images.h"

namespace crisp::test {
namespace {

// CrispdOptions from its three fields (designated initializers trip -Wmissing-field-initializers).
CrispdOptions crispd_options(std::vector<std::string> args, std::string config_toml, bool start) {
  CrispdOptions options;
  options.args = std::move(args);
  options.config_toml = std::move(config_toml);
  options.start = start;
  return options;
}

namespace v1 = ::runtime::v1;

struct HttpReply {
  int status = 0;
  std::map<std::string, std::string> headers;  // lower-case names
  std::string body;
};

// One HTTP/1.1 request to 127.0.0.1:port on a plain socket, read until the server closes.
HttpReply http(int port, const std::string& method, const std::string& target) {
  UniqueFd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) return {};
  std::string request = method + " " + target + " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n";
  if (::send(fd.get(), request.data(), request.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(request.size())) return {};
  timeval tv{10, 0};
  ::setsockopt(fd.get(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  std::string raw;
  char buf[65536];
  for (ssize_t n; (n = ::recv(fd.get(), buf, sizeof buf, 0)) > 0;) raw.append(buf, static_cast<size_t>(n));
  HttpReply reply;
  size_t head_end = raw.find("\r\n\r\n");
  if (head_end == std::string::npos || raw.rfind("HTTP/1.1 ", 0) != 0) return {};
  reply.status = std::stoi(raw.substr(9, 3));
  std::istringstream head(raw.substr(0, head_end));
  std::string line;
  std::getline(head, line);
  while (std::getline(head, line)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    auto colon = line.find(':');
    if (colon == std::string::npos) continue;
    std::string name = line.substr(0, colon);
    for (auto& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    reply.headers[name] = line.substr(line.find_first_not_of(' ', colon + 1));
  }
  reply.body = raw.substr(head_end + 4);
  return reply;
}

// Parses the text format: every non-comment line must be `name{label="value",...} value` or
// `name value`. Returns series (as written) -> value; a bad line fails the test.
std::map<std::string, double> parse_exposition(const std::string& text) {
  static const std::regex sample(
      R"re(^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{([a-zA-Z_][a-zA-Z0-9_]*="(\\.|[^"\\])*"(,[a-zA-Z_][a-zA-Z0-9_]*="(\\.|[^"\\])*")*)?\})? (\S+)$)re");
  static const std::regex comment(R"re(^# (HELP|TYPE) [a-zA-Z_:][a-zA-Z0-9_:]* .*$)re");
  std::map<std::string, double> out;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    if (line[0] == '#') {
      EXPECT_TRUE(std::regex_match(line, comment)) << "bad comment line: " << line;
      continue;
    }
    std::smatch m;
    if (!std::regex_match(line, m, sample)) {
      ADD_FAILURE() << "bad sample line: " << line;
      continue;
    }
    std::string value = m[m.size() - 1];
    double v = value == "+Inf" ? INFINITY : value == "-Inf" ? -INFINITY : std::stod(value);
    std::string series = line.substr(0, line.rfind(' '));
    EXPECT_FALSE(out.count(series)) << "series twice: " << series;
    out[series] = v;
  }
  return out;
}

double get(const std::map<std::string, double>& metrics, const std::string& series) {
  auto it = metrics.find(series);
  EXPECT_NE(it, metrics.end()) << "no series " << series;
  return it == metrics.end() ? NAN : it->second;
}

// The port crispd logged ("metrics on http://127.0.0.1:PORT/metrics").
int metrics_port(const CrispdFixture& crispd) {
  std::smatch m;
  std::string log = crispd.log();
  static const std::regex logged(R"(metrics on http://127\.0\.0\.1:(\d+)/metrics)");
  if (!std::regex_search(log, m, logged)) return -1;
  return std::stoi(m[1]);
}

class MetricsEndpointTest : public ::testing::Test {
 protected:
  void SetUp() override {
    crispd_ = std::make_unique<CrispdFixture>(crispd_options({"--metrics-address", "127.0.0.1:0"}, "", true));
    port_ = metrics_port(*crispd_);
    ASSERT_GT(port_, 0) << crispd_->log();
  }
  std::map<std::string, double> scrape() {
    HttpReply r = http(port_, "GET", "/metrics");
    EXPECT_EQ(r.status, 200);
    return parse_exposition(r.body);
  }
  std::unique_ptr<CrispdFixture> crispd_;
  int port_ = -1;
};

TEST_F(MetricsEndpointTest, ServesTheTextFormatOnlyAtMetrics) {
  HttpReply r = http(port_, "GET", "/metrics");
  ASSERT_EQ(r.status, 200);
  EXPECT_EQ(r.headers["content-type"], "text/plain; version=0.0.4; charset=utf-8");
  auto metrics = parse_exposition(r.body);
  EXPECT_FALSE(metrics.empty());
  for (const char* family : {"crisp_rpc_requests_total", "crisp_rpc_duration_seconds", "crisp_image_pulls_total",
                             "crisp_image_pull_bytes_total", "crisp_image_pull_duration_seconds", "crisp_sandboxes",
                             "crisp_containers", "crisp_monitors", "crisp_build_info",
                             "process_resident_memory_bytes", "process_open_fds", "process_start_time_seconds"}) {
    EXPECT_NE(r.body.find(std::string("# TYPE ") + family + " "), std::string::npos) << family;
  }
  EXPECT_EQ(http(port_, "GET", "/").status, 404);
  EXPECT_EQ(http(port_, "GET", "/metricsX").status, 404);
  EXPECT_EQ(http(port_, "GET", "/debug/pprof").status, 404);
  EXPECT_EQ(http(port_, "POST", "/metrics").status, 405);
  EXPECT_EQ(http(port_, "GET", "/metrics?x=1").status, 200);
}

TEST_F(MetricsEndpointTest, RpcCountersMoveWithCalls) {
  const std::string version_ok = "crisp_rpc_requests_total{rpc=\"Version\",code=\"OK\"}";
  double before = get(scrape(), version_ok);  // the fixture called Version to see crispd up
  v1::VersionResponse version;
  auto ctx = client_context();
  ASSERT_TRUE(crispd_->runtime().Version(ctx.get(), {}, &version).ok());
  auto metrics = scrape();
  EXPECT_EQ(get(metrics, version_ok), before + 1);
  EXPECT_GE(get(metrics, "crisp_rpc_duration_seconds_count{rpc=\"Version\"}"), before + 1);
  EXPECT_EQ(get(metrics, "crisp_rpc_duration_seconds_bucket{rpc=\"Version\",le=\"+Inf\"}"),
            get(metrics, "crisp_rpc_duration_seconds_count{rpc=\"Version\"}"));

  // A failing call is counted under its code.
  v1::ContainerStatusRequest req;
  req.set_container_id("0123456789abcdef0123456789abcdef");
  v1::ContainerStatusResponse resp;
  for (int i = 0; i < 2; ++i) {
    ctx = client_context();
    EXPECT_EQ(crispd_->runtime().ContainerStatus(ctx.get(), req, &resp).error_code(), grpc::StatusCode::NOT_FOUND);
  }
  v1::CheckpointContainerResponse checkpoint;
  ctx = client_context();
  EXPECT_EQ(crispd_->runtime().CheckpointContainer(ctx.get(), {}, &checkpoint).error_code(),
            grpc::StatusCode::UNIMPLEMENTED);
  metrics = scrape();
  EXPECT_EQ(get(metrics, "crisp_rpc_requests_total{rpc=\"ContainerStatus\",code=\"NOT_FOUND\"}"), 2);
  EXPECT_EQ(get(metrics, "crisp_rpc_requests_total{rpc=\"CheckpointContainer\",code=\"UNIMPLEMENTED\"}"), 1);
  EXPECT_EQ(metrics.count("crisp_rpc_requests_total{rpc=\"ContainerStatus\",code=\"OK\"}"), 0u);
}

TEST_F(MetricsEndpointTest, RuntimeAndProcessGauges) {
  auto metrics = scrape();
  EXPECT_EQ(get(metrics, "crisp_sandboxes{state=\"ready\"}"), 0);
  EXPECT_EQ(get(metrics, "crisp_sandboxes{state=\"notready\"}"), 0);
  EXPECT_EQ(get(metrics, "crisp_containers{state=\"running\"}"), 0);
  EXPECT_EQ(get(metrics, "crisp_containers{state=\"exited\"}"), 0);
  EXPECT_EQ(get(metrics, "crisp_monitors"), 0);
  EXPECT_GT(get(metrics, "process_resident_memory_bytes"), 1 << 20);
  EXPECT_GT(get(metrics, "process_open_fds"), 3);
  double start = get(metrics, "process_start_time_seconds");
  double now = static_cast<double>(std::time(nullptr));
  EXPECT_LE(start, now + 1);
  EXPECT_GT(start, now - 300) << "crispd started moments ago";
  bool build_info = false;
  for (const auto& [series, value] : metrics)
    if (series.rfind("crisp_build_info{version=\"", 0) == 0 && value == 1) build_info = true;
  EXPECT_TRUE(build_info);
}

TEST_F(MetricsEndpointTest, ImagePullsAreCountedAndTimed) {
  RegistryFixture registry;
  Image image = build_image(ImageConfig{}, {make_layer({file("hello.txt", std::string(4096, 'x'))})},
                            ManifestFormat::kOci);
  registry.push_image("crisp-test/metrics", "v1", image);

  v1::PullImageRequest pull;
  pull.mutable_image()->set_image(registry.host() + "/crisp-test/metrics:v1");
  v1::PullImageResponse pulled;
  auto ctx = client_context();
  grpc::Status s = crispd_->images().PullImage(ctx.get(), pull, &pulled);
  ASSERT_TRUE(s.ok()) << s.error_message();
  pull.mutable_image()->set_image(registry.host() + "/crisp-test/metrics:missing");
  ctx = client_context();
  EXPECT_FALSE(crispd_->images().PullImage(ctx.get(), pull, &pulled).ok());

  auto metrics = scrape();
  EXPECT_EQ(get(metrics, "crisp_image_pulls_total{result=\"success\"}"), 1);
  EXPECT_EQ(get(metrics, "crisp_image_pulls_total{result=\"failure\"}"), 1);
  EXPECT_EQ(get(metrics, "crisp_image_pull_duration_seconds_count"), 1);
  double bytes = get(metrics, "crisp_image_pull_bytes_total");
  EXPECT_EQ(bytes, static_cast<double>(image.layers[0].size));  // the layer's compressed bytes, fetched once

  // Pulling the same image again downloads nothing new.
  pull.mutable_image()->set_image(registry.host() + "/crisp-test/metrics:v1");
  ctx = client_context();
  ASSERT_TRUE(crispd_->images().PullImage(ctx.get(), pull, &pulled).ok());
  metrics = scrape();
  EXPECT_EQ(get(metrics, "crisp_image_pulls_total{result=\"success\"}"), 2);
  EXPECT_EQ(get(metrics, "crisp_image_pull_bytes_total"), bytes);
}

TEST_F(MetricsEndpointTest, SandboxContainerAndMonitorGaugesFollowTheRuntime) {
  RegistryFixture registry;
  registry.push_image("crisp-test/busybox", "latest", busybox_image(ManifestFormat::kOci));
  std::string image = registry.host() + "/crisp-test/busybox:latest";
  v1::PullImageRequest pull;
  pull.mutable_image()->set_image(image);
  v1::PullImageResponse pulled;
  auto ctx = client_context();
  ASSERT_TRUE(crispd_->images().PullImage(ctx.get(), pull, &pulled).ok());

  v1::RunPodSandboxRequest run;
  auto* pod = run.mutable_config();
  pod->mutable_metadata()->set_name("metrics");
  pod->mutable_metadata()->set_uid("uid-metrics");
  pod->mutable_metadata()->set_namespace_("metrics-ns");
  pod->mutable_linux()->mutable_security_context()->mutable_namespace_options()->set_network(v1::NODE);
  v1::RunPodSandboxResponse ran;
  ctx = client_context();
  grpc::Status s = crispd_->runtime().RunPodSandbox(ctx.get(), run, &ran);
  ASSERT_TRUE(s.ok()) << s.error_message();

  v1::CreateContainerRequest create;
  create.set_pod_sandbox_id(ran.pod_sandbox_id());
  *create.mutable_sandbox_config() = *pod;
  create.mutable_config()->mutable_metadata()->set_name("sleeper");
  create.mutable_config()->mutable_image()->set_image(image);
  for (const char* arg : {"sleep", "60"}) create.mutable_config()->add_command(arg);
  v1::CreateContainerResponse created;
  ctx = client_context();
  s = crispd_->runtime().CreateContainer(ctx.get(), create, &created);
  ASSERT_TRUE(s.ok()) << s.error_message();
  auto metrics = scrape();
  EXPECT_EQ(get(metrics, "crisp_sandboxes{state=\"ready\"}"), 1);
  EXPECT_EQ(get(metrics, "crisp_containers{state=\"created\"}"), 1);
  EXPECT_EQ(get(metrics, "crisp_monitors"), 0);

  v1::StartContainerRequest start;
  start.set_container_id(created.container_id());
  v1::StartContainerResponse started;
  ctx = client_context();
  s = crispd_->runtime().StartContainer(ctx.get(), start, &started);
  ASSERT_TRUE(s.ok()) << s.error_message();
  metrics = scrape();
  EXPECT_EQ(get(metrics, "crisp_containers{state=\"running\"}"), 1);
  EXPECT_EQ(get(metrics, "crisp_containers{state=\"created\"}"), 0);
  EXPECT_EQ(get(metrics, "crisp_monitors"), 1);

  v1::StopPodSandboxRequest stop;
  stop.set_pod_sandbox_id(ran.pod_sandbox_id());
  v1::StopPodSandboxResponse stopped;
  ctx = client_context();
  ASSERT_TRUE(crispd_->runtime().StopPodSandbox(ctx.get(), stop, &stopped).ok());
  metrics = scrape();
  EXPECT_EQ(get(metrics, "crisp_sandboxes{state=\"notready\"}"), 1);
  EXPECT_EQ(get(metrics, "crisp_containers{state=\"exited\"}"), 1);
  EXPECT_EQ(get(metrics, "crisp_monitors"), 0);

  v1::RemovePodSandboxRequest remove;
  remove.set_pod_sandbox_id(ran.pod_sandbox_id());
  v1::RemovePodSandboxResponse removed;
  ctx = client_context();
  ASSERT_TRUE(crispd_->runtime().RemovePodSandbox(ctx.get(), remove, &removed).ok());
  metrics = scrape();
  EXPECT_EQ(get(metrics, "crisp_sandboxes{state=\"notready\"}"), 0);
  EXPECT_EQ(get(metrics, "crisp_containers{state=\"exited\"}"), 0);
}

TEST(MetricsOffTest, NoAddressNoListener) {
  CrispdFixture crispd;
  EXPECT_EQ(crispd.log().find("metrics on"), std::string::npos) << crispd.log();
}

TEST(MetricsOffTest, BadAddressRefusedAtStart) {
  CrispdFixture crispd(crispd_options({"--metrics-address", "not-an-ip:80"}, "", false));
  EXPECT_THROW(crispd.start(), std::runtime_error);
  EXPECT_NE(crispd.log().find("metrics address not-an-ip:80"), std::string::npos) << crispd.log();
}

}  // namespace
}  // namespace crisp::test
