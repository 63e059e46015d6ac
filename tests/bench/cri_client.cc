#include "tests/bench/cri_client.h"

#include <stdlib.h>

#include <chrono>
#include <filesystem>
#include <stdexcept>

namespace crisp::bench {

namespace v1 = ::runtime::v1;

namespace {

std::unique_ptr<grpc::ClientContext> context(int seconds = 120) {
  auto ctx = std::make_unique<grpc::ClientContext>();
  ctx->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(seconds));
  return ctx;
}

void check(const grpc::Status& s, const char* what) {
  if (!s.ok()) throw std::runtime_error(std::string(what) + ": " + s.error_message());
}

}  // namespace

CriClient::CriClient(const std::string& endpoint) {
  grpc::ChannelArguments args;
  args.SetMaxReceiveMessageSize(64 * 1024 * 1024);
  channel_ = grpc::CreateCustomChannel(endpoint, grpc::InsecureChannelCredentials(), args);
  runtime_ = v1::RuntimeService::NewStub(channel_);
  images_ = v1::ImageService::NewStub(channel_);
  char root[] = "/tmp/crisp-bench-logs-XXXXXX";
  if (::mkdtemp(root) == nullptr) throw std::runtime_error("mkdtemp /tmp/crisp-bench-logs-XXXXXX failed");
  log_root_ = root;
}

CriClient::~CriClient() {
  std::error_code ec;
  std::filesystem::remove_all(log_root_, ec);
}

std::string CriClient::pull(const std::string& image) {
  v1::PullImageRequest req;
  req.mutable_image()->set_image(image);
  v1::PullImageResponse resp;
  check(images_->PullImage(context(600).get(), req, &resp), "PullImage");
  return resp.image_ref();
}

void CriClient::ensure_image(const std::string& image) {
  v1::ImageStatusRequest req;
  req.mutable_image()->set_image(image);
  v1::ImageStatusResponse resp;
  check(images_->ImageStatus(context().get(), req, &resp), "ImageStatus");
  if (!resp.has_image() || resp.image().id().empty()) pull(image);
}

uint64_t CriClient::image_size(const std::string& image) {
  v1::ImageStatusRequest req;
  req.mutable_image()->set_image(image);
  v1::ImageStatusResponse resp;
  check(images_->ImageStatus(context().get(), req, &resp), "ImageStatus");
  return resp.has_image() ? resp.image().size() : 0;
}

void CriClient::remove_image(const std::string& image) {
  v1::RemoveImageRequest req;
  req.mutable_image()->set_image(image);
  v1::RemoveImageResponse resp;
  check(images_->RemoveImage(context().get(), req, &resp), "RemoveImage");
}

v1::PodSandboxConfig CriClient::pod_config(const std::string& name) const {
  v1::PodSandboxConfig c;
  c.mutable_metadata()->set_name(name);
  c.mutable_metadata()->set_namespace_("crisp-bench");
  c.mutable_metadata()->set_uid(name + "-uid");
  c.set_hostname(name.substr(0, 63));
  c.set_log_directory(log_root_ + "/" + name);
  c.mutable_linux()->set_cgroup_parent("");
  // As the kubelet sends it (no shareProcessNamespace): each container has its own pid namespace.
  c.mutable_linux()->mutable_security_context()->mutable_namespace_options()->set_pid(v1::CONTAINER);
  (*c.mutable_labels())["app"] = "crisp-bench";
  return c;
}

std::string CriClient::run_pod(const v1::PodSandboxConfig& config) {
  v1::RunPodSandboxRequest req;
  *req.mutable_config() = config;
  v1::RunPodSandboxResponse resp;
  check(runtime_->RunPodSandbox(context().get(), req, &resp), "RunPodSandbox");
  return resp.pod_sandbox_id();
}

std::string CriClient::create_container(const std::string& pod_id, const v1::PodSandboxConfig& pod,
                                        const std::string& name, const std::string& image,
                                        const std::vector<std::string>& command) {
  v1::CreateContainerRequest req;
  req.set_pod_sandbox_id(pod_id);
  *req.mutable_sandbox_config() = pod;
  auto* c = req.mutable_config();
  c->mutable_metadata()->set_name(name);
  c->mutable_image()->set_image(image);
  for (const auto& a : command) c->add_command(a);
  c->set_log_path(name + ".log");
  c->mutable_linux()->mutable_security_context()->mutable_namespace_options()->set_pid(v1::CONTAINER);
  v1::CreateContainerResponse resp;
  check(runtime_->CreateContainer(context().get(), req, &resp), "CreateContainer");
  return resp.container_id();
}

void CriClient::start_container(const std::string& id) {
  v1::StartContainerRequest req;
  req.set_container_id(id);
  v1::StartContainerResponse resp;
  check(runtime_->StartContainer(context().get(), req, &resp), "StartContainer");
}

void CriClient::stop_pod(const std::string& id) {
  v1::StopPodSandboxRequest req;
  req.set_pod_sandbox_id(id);
  v1::StopPodSandboxResponse resp;
  check(runtime_->StopPodSandbox(context().get(), req, &resp), "StopPodSandbox");
}

void CriClient::remove_pod(const std::string& id) {
  v1::RemovePodSandboxRequest req;
  req.set_pod_sandbox_id(id);
  v1::RemovePodSandboxResponse resp;
  check(runtime_->RemovePodSandbox(context().get(), req, &resp), "RemovePodSandbox");
}

int CriClient::exec_sync(const std::string& container_id, const std::vector<std::string>& cmd) {
  v1::ExecSyncRequest req;
  req.set_container_id(container_id);
  for (const auto& a : cmd) req.add_cmd(a);
  req.set_timeout(10);
  v1::ExecSyncResponse resp;
  check(runtime_->ExecSync(context().get(), req, &resp), "ExecSync");
  return resp.exit_code();
}

size_t CriClient::list_containers() {
  v1::ListContainersResponse resp;
  check(runtime_->ListContainers(context().get(), {}, &resp), "ListContainers");
  return resp.containers_size();
}

size_t CriClient::list_pods() {
  v1::ListPodSandboxResponse resp;
  check(runtime_->ListPodSandbox(context().get(), {}, &resp), "ListPodSandbox");
  return resp.items_size();
}

size_t CriClient::list_container_stats() {
  v1::ListContainerStatsResponse resp;
  check(runtime_->ListContainerStats(context().get(), {}, &resp), "ListContainerStats");
  return resp.stats_size();
}

void CriClient::container_status(const std::string& id) {
  v1::ContainerStatusRequest req;
  req.set_container_id(id);
  v1::ContainerStatusResponse resp;
  check(runtime_->ContainerStatus(context().get(), req, &resp), "ContainerStatus");
}

}  // namespace crisp::bench
