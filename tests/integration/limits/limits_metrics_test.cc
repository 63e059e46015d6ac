// Pod network stats, the cAdvisor-style metrics (ListMetricDescriptors, ListPodSandboxMetrics,
// StreamPodSandboxMetrics) and the Stream*Stats RPCs through a real crispd over gRPC. Traffic only
// goes from the pod to its own bridge gateway (the fixture's /24).
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <map>
#include <set>
#include <thread>

#include "tests/integration/runtime/runtime_fixture.h"
#include "tests/support/cri_pods.h"
#include "tests/support/crispd_fixture.h"
#include "tests/support/standard_images_suite.h"
#include "tests/support/registry_fixture.h"
#include "tests/support/test_images.h"

namespace crisp::test {
namespace {

namespace v1 = ::runtime::v1;
using namespace std::chrono_literals;

std::string first_host(const std::string& cidr) {
  std::string network = cidr.substr(0, cidr.find('/'));
  in_addr addr{};
  EXPECT_EQ(::inet_pton(AF_INET, network.c_str(), &addr), 1) << cidr;
  addr.s_addr = htonl(ntohl(addr.s_addr) + 1);
  char text[INET_ADDRSTRLEN] = {};
  ::inet_ntop(AF_INET, &addr, text, sizeof(text));
  return text;
}

const v1::NetworkInterfaceUsage* find_interface(const v1::NetworkUsage& n, const std::string& name) {
  for (const auto& i : n.interfaces()) {
    if (i.name() == name) return &i;
  }
  return nullptr;
}

class LimitsMetricsTest : public StandardImagesSuite {
 protected:
  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "needs root";
    CrispdOptions options;
    options.config_toml = "[runtime]\nmonitor_path = \"" + runtime::test::monitor_binary() + "\"\n";
    crispd_ = std::make_unique<CrispdFixture>(options);
    pull(crispd_->images(), images_->busybox.ref);
  }
  void TearDown() override {
    if (crispd_ && crispd_->running()) remove_all_pods(crispd_->runtime(), /*stop_first=*/true);
    crispd_.reset();
  }

  std::string runp(const std::string& name, bool host_network = false) {
    auto config = pod_config(name, crispd_->dir() + "/logs");
    config.mutable_metadata()->set_namespace_("metrics-ns");
    if (host_network) {
      config.mutable_linux()->mutable_security_context()->mutable_namespace_options()->set_network(v1::NODE);
    }
    return run_pod(crispd_->runtime(), config);
  }

  std::string run_container(const std::string& pod, const v1::ContainerConfig& config) {
    return start_container(crispd_->runtime(), pod, config);
  }

  static v1::ContainerConfig container(const std::string& name, const std::vector<std::string>& cmd) {
    return container_config(name, images_->busybox.ref, cmd);
  }

  v1::ExecSyncResponse exec(const std::string& id, const std::vector<std::string>& cmd) {
    return crisp::test::exec(crispd_->runtime(), id, cmd, 20);
  }

  v1::PodSandboxStats pod_stats(const std::string& pod) {
    v1::PodSandboxStatsRequest req;
    req.set_pod_sandbox_id(pod);
    v1::PodSandboxStatsResponse resp;
    auto ctx = client_context();
    auto status = crispd_->runtime().PodSandboxStats(ctx.get(), req, &resp);
    EXPECT_TRUE(status.ok()) << status.error_message();
    return resp.stats();
  }

  std::vector<v1::PodSandboxMetrics> pod_metrics() {
    v1::ListPodSandboxMetricsResponse resp;
    auto ctx = client_context();
    auto status = crispd_->runtime().ListPodSandboxMetrics(ctx.get(), {}, &resp);
    EXPECT_TRUE(status.ok()) << status.error_message();
    return {resp.pod_metrics().begin(), resp.pod_metrics().end()};
  }

  std::map<std::string, v1::MetricDescriptor> descriptors() {
    v1::ListMetricDescriptorsResponse resp;
    auto ctx = client_context();
    auto status = crispd_->runtime().ListMetricDescriptors(ctx.get(), {}, &resp);
    EXPECT_TRUE(status.ok()) << status.error_message();
    std::map<std::string, v1::MetricDescriptor> out;
    for (const auto& d : resp.descriptors()) {
      EXPECT_TRUE(out.emplace(d.name(), d).second) << d.name() << " listed twice";
    }
    return out;
  }

  std::unique_ptr<CrispdFixture> crispd_;
};


// The value of the metric `name` whose labels match `labels` (key -> value), using the descriptor's
// label keys; nullopt when absent.
std::optional<uint64_t> metric_value(const google::protobuf::RepeatedPtrField<v1::Metric>& metrics,
                                     const std::map<std::string, v1::MetricDescriptor>& descs, const std::string& name,
                                     const std::map<std::string, std::string>& labels) {
  auto d = descs.find(name);
  if (d == descs.end()) return std::nullopt;
  for (const auto& m : metrics) {
    if (m.name() != name || m.label_values_size() != d->second.label_keys_size()) continue;
    bool match = true;
    for (int i = 0; i < m.label_values_size(); ++i) {
      auto want = labels.find(d->second.label_keys(i));
      if (want != labels.end() && want->second != m.label_values(i)) match = false;
    }
    if (match) return m.value().value();
  }
  return std::nullopt;
}

TEST_F(LimitsMetricsTest, PodNetworkCountersMoveWithTraffic) {
  std::string pod = runp("net");
  std::string ctr = run_container(pod, container("c", {"sleep", "1000"}));
  v1::PodSandboxStats before = pod_stats(pod);
  ASSERT_TRUE(before.linux().has_network()) << before.DebugString();
  EXPECT_EQ(before.linux().network().default_interface().name(), "eth0");
  const auto* eth0 = find_interface(before.linux().network(), "eth0");
  ASSERT_NE(eth0, nullptr) << before.DebugString();
  EXPECT_EQ(find_interface(before.linux().network(), "lo"), nullptr) << "lo is left out, as cAdvisor does";

  std::string gateway = first_host(crispd_->pod_cidr());
  auto ping = exec(ctr, {"ping", "-c", "3", "-i", "0.2", "-W", "2", gateway});
  ASSERT_EQ(ping.exit_code(), 0) << ping.stdout() << ping.stderr();

  v1::PodSandboxStats after = pod_stats(pod);
  const auto& d0 = before.linux().network().default_interface();
  const auto& d1 = after.linux().network().default_interface();
  // 3 ICMP echo requests/replies of 98 bytes (84 + ethernet header) each way, plus ARP.
  EXPECT_GE(d1.tx_bytes().value(), d0.tx_bytes().value() + 3 * 98) << after.DebugString();
  EXPECT_GE(d1.rx_bytes().value(), d0.rx_bytes().value() + 3 * 98) << after.DebugString();
  EXPECT_EQ(d1.rx_errors().value(), 0u);
  EXPECT_EQ(d1.tx_errors().value(), 0u);
  EXPECT_GT(after.linux().network().timestamp(), 0);
  // Pod-level cpu/memory/process stats come from the pod's cgroup.
  EXPECT_GT(after.linux().memory().working_set_bytes().value(), 0u);
  EXPECT_GT(after.linux().cpu().usage_core_nano_seconds().value(), 0u);
  EXPECT_GE(after.linux().process().process_count().value(), 1u);
  ASSERT_EQ(after.linux().containers_size(), 1);
  EXPECT_EQ(after.linux().containers(0).attributes().id(), ctr);

  // The list form reports the same pod, with its network.
  v1::ListPodSandboxStatsRequest lreq;
  lreq.mutable_filter()->set_id(pod);
  v1::ListPodSandboxStatsResponse lresp;
  auto lctx = client_context();
  ASSERT_TRUE(crispd_->runtime().ListPodSandboxStats(lctx.get(), lreq, &lresp).ok());
  ASSERT_EQ(lresp.stats_size(), 1);
  EXPECT_EQ(lresp.stats(0).attributes().id(), pod);
  EXPECT_GE(lresp.stats(0).linux().network().default_interface().tx_bytes().value(), d1.tx_bytes().value());
}

TEST_F(LimitsMetricsTest, HostNetworkPodReportsNoNetwork) {
  std::string pod = runp("hostnet", /*host_network=*/true);
  run_container(pod, container("c", {"sleep", "1000"}));
  v1::PodSandboxStats stats = pod_stats(pod);
  EXPECT_FALSE(stats.linux().has_network()) << stats.DebugString();
  for (const auto& p : pod_metrics()) {
    if (p.pod_sandbox_id() != pod) continue;
    for (const auto& m : p.metrics()) EXPECT_EQ(m.name().rfind("container_network_", 0), std::string::npos) << m.name();
  }
}

TEST_F(LimitsMetricsTest, DescriptorsNamesTypesAndLabels) {
  auto descs = descriptors();
  const std::vector<std::string> base = {"container", "id", "image", "name", "namespace", "pod"};
  for (const char* name :
       {"container_cpu_usage_seconds_total", "container_cpu_user_seconds_total", "container_cpu_system_seconds_total",
        "container_memory_usage_bytes", "container_memory_working_set_bytes", "container_memory_rss",
        "container_memory_cache", "container_memory_swap", "container_memory_failcnt",
        "container_memory_failures_total", "container_spec_memory_limit_bytes", "container_spec_cpu_quota",
        "container_spec_cpu_period", "container_spec_cpu_shares", "container_processes", "container_threads",
        "container_fs_usage_bytes", "container_fs_inodes_total", "container_network_receive_bytes_total",
        "container_network_transmit_bytes_total", "container_network_receive_packets_total",
        "container_network_transmit_packets_total", "container_network_receive_errors_total",
        "container_network_transmit_errors_total", "container_network_receive_packets_dropped_total",
        "container_network_transmit_packets_dropped_total", "container_last_seen", "container_start_time_seconds",
        "container_oom_events_total"}) {
    auto it = descs.find(name);
    ASSERT_NE(it, descs.end()) << name;
    const auto& keys = it->second.label_keys();
    ASSERT_GE(keys.size(), static_cast<int>(base.size())) << name;
    for (size_t i = 0; i < base.size(); ++i) EXPECT_EQ(keys[static_cast<int>(i)], base[i]) << name;
    EXPECT_FALSE(it->second.help().empty()) << name;
    std::string n = name;
    if (n.rfind("container_network_", 0) == 0) {
      EXPECT_EQ(keys.size(), 7);
      EXPECT_EQ(keys[6], "interface") << name;
    }
  }
  const auto& failures = descs["container_memory_failures_total"].label_keys();
  ASSERT_EQ(failures.size(), 8);
  EXPECT_EQ(failures[6], "failure_type");
  EXPECT_EQ(failures[7], "scope");
}

TEST_F(LimitsMetricsTest, PodSandboxMetricsOfARunningContainer) {
  auto descs = descriptors();
  std::string pod = runp("metrics");
  auto config = container("busy", {"sh", "-c", "while :; do :; done"});
  config.mutable_linux()->mutable_resources()->set_memory_limit_in_bytes(96 << 20);
  config.mutable_linux()->mutable_resources()->set_cpu_quota(80000);
  config.mutable_linux()->mutable_resources()->set_cpu_period(100000);
  config.mutable_linux()->mutable_resources()->set_cpu_shares(512);
  std::string ctr = run_container(pod, config);
  std::string gateway = first_host(crispd_->pod_cidr());
  auto ping = exec(ctr, {"ping", "-c", "2", "-i", "0.2", "-W", "2", gateway});
  ASSERT_EQ(ping.exit_code(), 0) << ping.stdout() << ping.stderr();

  // CPU counters are whole seconds: wait for the busy loop to use more than one.
  for (int i = 0; i < 100; ++i) {
    v1::ContainerStatsRequest req;
    req.set_container_id(ctr);
    v1::ContainerStatsResponse resp;
    auto ctx = client_context();
    ASSERT_TRUE(crispd_->runtime().ContainerStats(ctx.get(), req, &resp).ok());
    if (resp.stats().cpu().usage_core_nano_seconds().value() > 1200000000ull) break;
    std::this_thread::sleep_for(200ms);
  }

  auto all = pod_metrics();
  const v1::PodSandboxMetrics* mine = nullptr;
  for (const auto& p : all) {
    if (p.pod_sandbox_id() == pod) mine = &p;
  }
  ASSERT_NE(mine, nullptr);
  // Every metric is described and has one value per label key (the kubelet drops the others).
  auto check_shape = [&](const google::protobuf::RepeatedPtrField<v1::Metric>& metrics) {
    for (const auto& m : metrics) {
      auto d = descs.find(m.name());
      ASSERT_NE(d, descs.end()) << m.name() << " has no descriptor";
      EXPECT_EQ(m.label_values_size(), d->second.label_keys_size()) << m.name();
      EXPECT_GT(m.timestamp(), 0) << m.name();
      bool counter = m.name().size() > 6 && m.name().substr(m.name().size() - 6) == "_total";
      if (m.name() == "container_memory_failcnt") counter = true;
      if (m.name() == "container_fs_inodes_total") counter = false;  // a size, as in cAdvisor
      EXPECT_EQ(m.metric_type(), counter ? v1::COUNTER : v1::GAUGE) << m.name();
    }
  };
  check_shape(mine->metrics());
  ASSERT_EQ(mine->container_metrics_size(), 1);
  const auto& cm = mine->container_metrics(0);
  EXPECT_EQ(cm.container_id(), ctr);
  check_shape(cm.metrics());

  std::map<std::string, std::string> pod_labels = {{"container", ""}, {"name", pod}, {"namespace", "metrics-ns"},
                                                   {"pod", "metrics"}, {"interface", "eth0"}};
  auto rx = metric_value(mine->metrics(), descs, "container_network_receive_bytes_total", pod_labels);
  auto tx = metric_value(mine->metrics(), descs, "container_network_transmit_packets_total", pod_labels);
  ASSERT_TRUE(rx && tx);
  EXPECT_GE(*rx, 2u * 98);
  EXPECT_GE(*tx, 2u);
  auto pod_cpu = metric_value(mine->metrics(), descs, "container_cpu_usage_seconds_total", pod_labels);
  ASSERT_TRUE(pod_cpu);
  EXPECT_GE(*pod_cpu, 1u);

  std::map<std::string, std::string> labels = {{"container", "busy"}, {"name", ctr}, {"namespace", "metrics-ns"},
                                               {"pod", "metrics"}, {"image", images_->busybox.ref}};
  auto value = [&](const std::string& name) {
    auto v = metric_value(cm.metrics(), descs, name, labels);
    EXPECT_TRUE(v.has_value()) << name << " missing (or labelled differently)";
    return v.value_or(0);
  };
  EXPECT_GE(value("container_cpu_usage_seconds_total"), 1u);
  EXPECT_GT(value("container_memory_working_set_bytes"), 0u);
  EXPECT_GT(value("container_memory_usage_bytes"), 0u);
  EXPECT_EQ(value("container_spec_memory_limit_bytes"), 96u << 20);
  EXPECT_EQ(value("container_spec_cpu_quota"), 80000u);
  EXPECT_EQ(value("container_spec_cpu_period"), 100000u);
  EXPECT_EQ(value("container_spec_cpu_shares"), 512u);
  EXPECT_GE(value("container_processes"), 1u);
  EXPECT_GE(value("container_threads"), 1u);
  EXPECT_EQ(value("container_oom_events_total"), 0u);
  EXPECT_GT(value("container_fs_inodes_total"), 0u);
  uint64_t now = static_cast<uint64_t>(::time(nullptr));
  EXPECT_LE(value("container_start_time_seconds"), now);
  EXPECT_GE(value("container_start_time_seconds"), now - 120);
  EXPECT_GE(value("container_last_seen"), value("container_start_time_seconds"));
  // Network counters are the pod's, reported once at pod level.
  EXPECT_FALSE(metric_value(cm.metrics(), descs, "container_network_receive_bytes_total", {}).has_value());

  // The streaming form carries the same pods.
  v1::StreamPodSandboxMetricsRequest sreq;
  auto sctx = client_context();
  auto reader = crispd_->runtime().StreamPodSandboxMetrics(sctx.get(), sreq);
  v1::StreamPodSandboxMetricsResponse page;
  std::set<std::string> streamed;
  while (reader->Read(&page)) {
    for (const auto& p : page.pod_sandbox_metrics()) streamed.insert(p.pod_sandbox_id());
  }
  auto status = reader->Finish();
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(streamed.count(pod), 1u);
}

TEST_F(LimitsMetricsTest, StreamStatsRespectTheFilter) {
  std::string pod_a = runp("a");
  std::string pod_b = runp("b");
  std::string ctr_a = run_container(pod_a, container("ca", {"sleep", "1000"}));
  run_container(pod_b, container("cb", {"sleep", "1000"}));

  {
    v1::StreamContainerStatsRequest req;
    req.mutable_filter()->set_pod_sandbox_id(pod_a);
    auto ctx = client_context();
    auto reader = crispd_->runtime().StreamContainerStats(ctx.get(), req);
    v1::StreamContainerStatsResponse page;
    std::vector<std::string> ids;
    while (reader->Read(&page)) {
      for (const auto& s : page.container_stats()) ids.push_back(s.attributes().id());
    }
    ASSERT_TRUE(reader->Finish().ok());
    EXPECT_EQ(ids, std::vector<std::string>{ctr_a});
  }
  {
    v1::StreamContainerStatsRequest req;  // no filter: both
    auto ctx = client_context();
    auto reader = crispd_->runtime().StreamContainerStats(ctx.get(), req);
    v1::StreamContainerStatsResponse page;
    size_t n = 0;
    while (reader->Read(&page)) n += static_cast<size_t>(page.container_stats_size());
    ASSERT_TRUE(reader->Finish().ok());
    EXPECT_EQ(n, 2u);
  }
  {
    v1::StreamPodSandboxStatsRequest req;
    req.mutable_filter()->set_id(pod_b);
    auto ctx = client_context();
    auto reader = crispd_->runtime().StreamPodSandboxStats(ctx.get(), req);
    v1::StreamPodSandboxStatsResponse page;
    std::vector<std::string> ids;
    while (reader->Read(&page)) {
      for (const auto& s : page.pod_sandbox_stats()) {
        ids.push_back(s.attributes().id());
        EXPECT_TRUE(s.linux().has_network());
        EXPECT_EQ(s.linux().containers_size(), 1);
      }
    }
    ASSERT_TRUE(reader->Finish().ok());
    EXPECT_EQ(ids, std::vector<std::string>{pod_b});
  }
  {
    v1::StreamPodSandboxStatsRequest req;
    (*req.mutable_filter()->mutable_label_selector())["no-such"] = "label";
    auto ctx = client_context();
    auto reader = crispd_->runtime().StreamPodSandboxStats(ctx.get(), req);
    v1::StreamPodSandboxStatsResponse page;
    int pages = 0;
    while (reader->Read(&page)) ++pages;
    EXPECT_TRUE(reader->Finish().ok());
    EXPECT_EQ(pages, 0);
  }
}

// As containerd: ListContainerStats lists exited containers too, with their writable layer but no
// cpu/memory (crictl stats hides them by their zero cpu and memory; stats -a shows them).
TEST_F(LimitsMetricsTest, ExitedContainersHaveOnlyTheirWritableLayer) {
  std::string pod = runp("exited");
  std::string running = run_container(pod, container("r", {"sleep", "1000"}));
  std::string done = run_container(pod, container("d", {"true"}));
  for (int i = 0; i < 100; ++i) {
    v1::ContainerStatusRequest req;
    req.set_container_id(done);
    v1::ContainerStatusResponse resp;
    auto ctx = client_context();
    ASSERT_TRUE(crispd_->runtime().ContainerStatus(ctx.get(), req, &resp).ok());
    if (resp.status().state() == v1::CONTAINER_EXITED) break;
    std::this_thread::sleep_for(50ms);
  }
  v1::ListContainerStatsRequest req;
  req.mutable_filter()->set_pod_sandbox_id(pod);
  v1::ListContainerStatsResponse resp;
  auto ctx = client_context();
  ASSERT_TRUE(crispd_->runtime().ListContainerStats(ctx.get(), req, &resp).ok());
  ASSERT_EQ(resp.stats_size(), 2);
  for (const auto& s : resp.stats()) {
    if (s.attributes().id() == done) {
      EXPECT_FALSE(s.has_cpu());
      EXPECT_FALSE(s.has_memory());
      EXPECT_GT(s.writable_layer().inodes_used().value(), 0u);
    } else {
      EXPECT_EQ(s.attributes().id(), running);
      EXPECT_GT(s.cpu().usage_core_nano_seconds().value(), 0u);
      EXPECT_GT(s.memory().working_set_bytes().value(), 0u);
      EXPECT_TRUE(s.has_swap());
    }
  }
}

// Status and RuntimeConfig: what the kubelet checks before using crisp's features.
TEST_F(LimitsMetricsTest, RuntimeFeaturesAndCgroupDriver) {
  v1::StatusResponse status;
  auto ctx = client_context();
  ASSERT_TRUE(crispd_->runtime().Status(ctx.get(), {}, &status).ok());
  ASSERT_GE(status.runtime_handlers_size(), 1);
  EXPECT_EQ(status.runtime_handlers(0).name(), "");
  EXPECT_TRUE(status.runtime_handlers(0).features().recursive_read_only_mounts());
  v1::RuntimeConfigResponse config;
  auto cctx = client_context();
  ASSERT_TRUE(crispd_->runtime().RuntimeConfig(cctx.get(), {}, &config).ok());
  EXPECT_EQ(config.linux().cgroup_driver(), v1::CGROUPFS);
}

// --cgroup-driver systemd on a host whose init is not systemd: crispd refuses to start, saying why,
// instead of failing every pod later.
TEST(LimitsSystemdDriver, CrispdRefusesToStartWithoutSystemd) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root";
  if (::access("/run/systemd/system", F_OK) == 0) GTEST_SKIP() << "this host runs systemd";
  CrispdOptions options;
  options.start = false;
  options.args = {"--cgroup-driver", "systemd"};
  CrispdFixture crispd(options);
  try {
    crispd.start();
    FAIL() << "crispd started with the systemd cgroup driver on a host without systemd";
  } catch (const std::exception& e) {
    EXPECT_NE(crispd.log().find("not booted with systemd"), std::string::npos) << crispd.log();
  }
}

}  // namespace
}  // namespace crisp::test
