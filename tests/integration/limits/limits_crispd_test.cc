// The issue-5 RPCs through a real crispd over gRPC (what `crictl stats/statsp/update` call):
// UpdateContainerResources, ContainerStats, ListContainerStats, PodSandboxStats,
// ListPodSandboxStats, and CreateContainer with a security context and resources.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>
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

std::string read_text(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  std::string s = ss.str();
  while (!s.empty() && s.back() == '\n') s.pop_back();
  return s;
}

class LimitsCrispdTest : public StandardImagesSuite {
 protected:
  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "needs root";
    CrispdOptions options;
    options.config_toml = "[runtime]\nmonitor_path = \"" + runtime::test::monitor_binary() + "\"\n";
    crispd_ = std::make_unique<CrispdFixture>(options);
    pull(crispd_->images(), images_->busybox.ref);
  }
  void TearDown() override {
    if (crispd_ && crispd_->running()) remove_all_pods(crispd_->runtime());
    crispd_.reset();
    for (const auto& path : cgroups_) {
      EXPECT_FALSE(std::filesystem::exists("/sys/fs/cgroup/memory" + path)) << path << " left behind";
    }
  }

  std::string runp(const std::string& name) { return run_pod(crispd_->runtime(), pod_config(name, crispd_->dir() + "/logs")); }

  grpc::Status create(const std::string& pod, const v1::ContainerConfig& config, std::string* id) {
    return try_create_container(crispd_->runtime(), pod, config, id);
  }

  static v1::ContainerConfig sleeper(const std::string& name) {
    return container_config(name, images_->busybox.ref, {"sleep", "1000"});
  }

  std::unique_ptr<CrispdFixture> crispd_;
  std::vector<std::string> cgroups_;
};


TEST_F(LimitsCrispdTest, UpdateAndStatsOverCri) {
  std::string pod = runp("limits");
  auto config = sleeper("c");
  auto* resources = config.mutable_linux()->mutable_resources();
  resources->set_memory_limit_in_bytes(64 << 20);
  resources->set_cpu_quota(50000);
  resources->set_cpu_period(100000);
  auto* sc = config.mutable_linux()->mutable_security_context();
  sc->mutable_seccomp()->set_profile_type(v1::SecurityProfile::RuntimeDefault);
  sc->mutable_capabilities()->add_drop_capabilities("ALL");
  std::string id;
  auto status = create(pod, config, &id);
  ASSERT_TRUE(status.ok()) << status.error_message();
  status = try_start_container(crispd_->runtime(), id);
  ASSERT_TRUE(status.ok()) << status.error_message();

  // Where its cgroup is: /proc/<pid>/cgroup of the container process.
  v1::ContainerStatusRequest sreq;
  sreq.set_container_id(id);
  sreq.set_verbose(true);
  v1::ContainerStatusResponse sresp;
  auto sctx = client_context();
  ASSERT_TRUE(crispd_->runtime().ContainerStatus(sctx.get(), sreq, &sresp).ok());
  EXPECT_EQ(sresp.status().resources().linux().memory_limit_in_bytes(), 64 << 20);
  std::string cgroup = "/crisp/" + pod + "/" + id;
  cgroups_.push_back(cgroup);
  cgroups_.push_back("/crisp/" + pod);
  EXPECT_EQ(read_text("/sys/fs/cgroup/memory" + cgroup + "/memory.limit_in_bytes"), std::to_string(64 << 20));
  std::string procs = read_text("/sys/fs/cgroup/memory" + cgroup + "/cgroup.procs");
  ASSERT_FALSE(procs.empty());
  std::string status_text = read_text("/proc/" + procs.substr(0, procs.find('\n')) + "/status");
  EXPECT_NE(status_text.find("Seccomp:\t2"), std::string::npos);
  EXPECT_NE(status_text.find("CapEff:\t0000000000000000"), std::string::npos);

  // crictl update --memory 128m --cpu-quota 20000
  v1::UpdateContainerResourcesRequest ureq;
  ureq.set_container_id(id);
  ureq.mutable_linux()->set_memory_limit_in_bytes(128 << 20);
  ureq.mutable_linux()->set_cpu_quota(20000);
  v1::UpdateContainerResourcesResponse uresp;
  auto uctx = client_context();
  status = crispd_->runtime().UpdateContainerResources(uctx.get(), ureq, &uresp);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(read_text("/sys/fs/cgroup/memory" + cgroup + "/memory.limit_in_bytes"), std::to_string(128 << 20));
  EXPECT_EQ(read_text("/sys/fs/cgroup/cpu" + cgroup + "/cpu.cfs_quota_us"), "20000");

  // A negative limit is INVALID_ARGUMENT and changes nothing.
  ureq.mutable_linux()->set_memory_limit_in_bytes(-5);
  auto bctx = client_context();
  status = crispd_->runtime().UpdateContainerResources(bctx.get(), ureq, &uresp);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << status.error_message();
  EXPECT_EQ(read_text("/sys/fs/cgroup/memory" + cgroup + "/memory.limit_in_bytes"), std::to_string(128 << 20));

  // crictl stats
  v1::ContainerStatsRequest creq;
  creq.set_container_id(id);
  v1::ContainerStatsResponse cresp;
  auto cctx = client_context();
  status = crispd_->runtime().ContainerStats(cctx.get(), creq, &cresp);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(cresp.stats().attributes().id(), id);
  EXPECT_EQ(cresp.stats().attributes().metadata().name(), "c");
  EXPECT_GT(cresp.stats().cpu().usage_core_nano_seconds().value(), 0u);
  EXPECT_GT(cresp.stats().memory().working_set_bytes().value(), 0u);
  EXPECT_GT(cresp.stats().memory().available_bytes().value(), 0u);
  EXPECT_GT(cresp.stats().writable_layer().inodes_used().value(), 0u);

  v1::ListContainerStatsRequest lreq;
  lreq.mutable_filter()->set_pod_sandbox_id(pod);
  v1::ListContainerStatsResponse lresp;
  auto lctx = client_context();
  ASSERT_TRUE(crispd_->runtime().ListContainerStats(lctx.get(), lreq, &lresp).ok());
  ASSERT_EQ(lresp.stats_size(), 1);
  EXPECT_EQ(lresp.stats(0).attributes().id(), id);

  // crictl statsp
  v1::PodSandboxStatsRequest preq;
  preq.set_pod_sandbox_id(pod);
  v1::PodSandboxStatsResponse presp;
  auto pctx = client_context();
  status = crispd_->runtime().PodSandboxStats(pctx.get(), preq, &presp);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(presp.stats().attributes().id(), pod);
  EXPECT_GE(presp.stats().linux().process().process_count().value(), 1u);
  EXPECT_EQ(presp.stats().linux().containers_size(), 1);
  v1::ListPodSandboxStatsRequest lpreq;
  v1::ListPodSandboxStatsResponse lpresp;
  auto lpctx = client_context();
  ASSERT_TRUE(crispd_->runtime().ListPodSandboxStats(lpctx.get(), lpreq, &lpresp).ok());
  EXPECT_EQ(lpresp.stats_size(), 1);
}

TEST_F(LimitsCrispdTest, BadSecurityContextsAreClearErrors) {
  std::string pod = runp("bad");
  auto caps = sleeper("caps");
  caps.mutable_linux()->mutable_security_context()->mutable_capabilities()->add_add_capabilities("WARP_DRIVE");
  std::string id;
  auto status = create(pod, caps, &id);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(status.error_message().find("WARP_DRIVE"), std::string::npos) << status.error_message();

  auto seccomp = sleeper("seccomp");
  auto* profile = seccomp.mutable_linux()->mutable_security_context()->mutable_seccomp();
  profile->set_profile_type(v1::SecurityProfile::Localhost);
  profile->set_localhost_ref(crispd_->dir() + "/no-such-profile.json");
  status = create(pod, seccomp, &id);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::NOT_FOUND) << status.error_message();

  auto memory = sleeper("memory");
  memory.mutable_linux()->mutable_resources()->set_memory_limit_in_bytes(-100);
  status = create(pod, memory, &id);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << status.error_message();

  auto privileged = sleeper("privileged");
  privileged.mutable_linux()->mutable_security_context()->set_privileged(true);
  status = create(pod, privileged, &id);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << status.error_message();

  v1::ListContainersResponse list;
  auto ctx = client_context();
  ASSERT_TRUE(crispd_->runtime().ListContainers(ctx.get(), {}, &list).ok());
  EXPECT_EQ(list.containers_size(), 0);
  cgroups_.push_back("/crisp/" + pod);
}

}  // namespace
}  // namespace crisp::test
