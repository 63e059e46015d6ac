#include "tests/support/cri_pods.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>

#include "tests/support/crispd_fixture.h"

namespace crisp::test {

namespace v1 = ::runtime::v1;
using namespace std::chrono_literals;

v1::PodSandboxConfig pod_config(const std::string& name, const std::string& log_root) {
  v1::PodSandboxConfig c;
  c.mutable_metadata()->set_name(name);
  c.mutable_metadata()->set_uid("uid-" + name);
  c.mutable_metadata()->set_namespace_("default");
  c.set_hostname(name);
  c.set_log_directory(log_root + "/" + name);
  return c;
}

grpc::Status try_run_pod(v1::RuntimeService::Stub& runtime, const v1::PodSandboxConfig& config, std::string* id,
                         const std::string& runtime_handler) {
  v1::RunPodSandboxRequest req;
  *req.mutable_config() = config;
  req.set_runtime_handler(runtime_handler);
  v1::RunPodSandboxResponse resp;
  auto ctx = client_context();
  auto status = runtime.RunPodSandbox(ctx.get(), req, &resp);
  if (id) *id = resp.pod_sandbox_id();
  return status;
}

std::string run_pod(v1::RuntimeService::Stub& runtime, const v1::PodSandboxConfig& config,
                    const std::string& runtime_handler) {
  std::string id;
  auto status = try_run_pod(runtime, config, &id, runtime_handler);
  EXPECT_TRUE(status.ok()) << config.metadata().name() << ": " << status.error_message();
  return id;
}

v1::ContainerConfig container_config(const std::string& name, const std::string& image,
                                     const std::vector<std::string>& command) {
  v1::ContainerConfig c;
  c.mutable_metadata()->set_name(name);
  c.mutable_image()->set_image(image);
  for (const auto& arg : command) c.add_command(arg);
  c.set_log_path(name + ".log");
  return c;
}

grpc::Status try_create_container(v1::RuntimeService::Stub& runtime, const std::string& pod,
                                  const v1::ContainerConfig& config, std::string* id) {
  v1::CreateContainerRequest req;
  req.set_pod_sandbox_id(pod);
  *req.mutable_config() = config;
  v1::CreateContainerResponse resp;
  auto ctx = client_context();
  auto status = runtime.CreateContainer(ctx.get(), req, &resp);
  if (id) *id = resp.container_id();
  return status;
}

grpc::Status try_start_container(v1::RuntimeService::Stub& runtime, const std::string& container) {
  v1::StartContainerRequest req;
  req.set_container_id(container);
  v1::StartContainerResponse resp;
  auto ctx = client_context();
  return runtime.StartContainer(ctx.get(), req, &resp);
}

std::string start_container(v1::RuntimeService::Stub& runtime, const std::string& pod,
                            const v1::ContainerConfig& config) {
  std::string id;
  auto status = try_create_container(runtime, pod, config, &id);
  EXPECT_TRUE(status.ok()) << "create " << config.metadata().name() << ": " << status.error_message();
  status = try_start_container(runtime, id);
  EXPECT_TRUE(status.ok()) << "start " << config.metadata().name() << ": " << status.error_message();
  return id;
}

v1::ExecSyncResponse exec(v1::RuntimeService::Stub& runtime, const std::string& container,
                          const std::vector<std::string>& cmd, int64_t timeout_s, grpc::Status* status_out) {
  v1::ExecSyncRequest req;
  req.set_container_id(container);
  for (const auto& a : cmd) req.add_cmd(a);
  req.set_timeout(timeout_s);
  v1::ExecSyncResponse resp;
  auto ctx = client_context(std::max<std::chrono::milliseconds>(30s, std::chrono::seconds(timeout_s + 10)));
  auto status = runtime.ExecSync(ctx.get(), req, &resp);
  if (status_out) {
    *status_out = status;
  } else {
    EXPECT_TRUE(status.ok()) << status.error_message();
  }
  return resp;
}

v1::PodSandboxStatusResponse pod_status(v1::RuntimeService::Stub& runtime, const std::string& pod, bool verbose) {
  v1::PodSandboxStatusRequest req;
  req.set_pod_sandbox_id(pod);
  req.set_verbose(verbose);
  v1::PodSandboxStatusResponse resp;
  auto ctx = client_context();
  auto status = runtime.PodSandboxStatus(ctx.get(), req, &resp);
  EXPECT_TRUE(status.ok()) << status.error_message();
  return resp;
}

std::vector<v1::PodSandbox> list_pods(v1::RuntimeService::Stub& runtime) {
  v1::ListPodSandboxResponse resp;
  auto ctx = client_context();
  auto status = runtime.ListPodSandbox(ctx.get(), {}, &resp);
  EXPECT_TRUE(status.ok()) << status.error_message();
  return {resp.items().begin(), resp.items().end()};
}

grpc::Status try_stop_pod(v1::RuntimeService::Stub& runtime, const std::string& pod) {
  v1::StopPodSandboxRequest req;
  req.set_pod_sandbox_id(pod);
  v1::StopPodSandboxResponse resp;
  auto ctx = client_context();
  return runtime.StopPodSandbox(ctx.get(), req, &resp);
}

grpc::Status try_remove_pod(v1::RuntimeService::Stub& runtime, const std::string& pod) {
  v1::RemovePodSandboxRequest req;
  req.set_pod_sandbox_id(pod);
  v1::RemovePodSandboxResponse resp;
  auto ctx = client_context();
  return runtime.RemovePodSandbox(ctx.get(), req, &resp);
}

void remove_pod(v1::RuntimeService::Stub& runtime, const std::string& pod) {
  auto status = try_remove_pod(runtime, pod);
  EXPECT_TRUE(status.ok()) << "remove " << pod << ": " << status.error_message();
}

void stop_and_remove_pod(v1::RuntimeService::Stub& runtime, const std::string& pod) {
  auto status = try_stop_pod(runtime, pod);
  EXPECT_TRUE(status.ok()) << "stop " << pod << ": " << status.error_message();
  remove_pod(runtime, pod);
}

void remove_all_pods(v1::RuntimeService::Stub& runtime, bool stop_first) {
  for (const auto& pod : list_pods(runtime)) {
    if (stop_first) {
      stop_and_remove_pod(runtime, pod.id());
    } else {
      remove_pod(runtime, pod.id());
    }
  }
}

void pull(v1::ImageService::Stub& images, const std::string& ref) {
  v1::PullImageRequest req;
  req.mutable_image()->set_image(ref);
  v1::PullImageResponse resp;
  auto ctx = client_context(60s);
  auto status = images.PullImage(ctx.get(), req, &resp);
  ASSERT_TRUE(status.ok()) << ref << ": " << status.error_message();
}

}  // namespace crisp::test
