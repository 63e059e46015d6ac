#pragma once
// runtime.v1.RuntimeService: one .cc file per RPC family in this directory; each handler is a thin
// translation from the CRI message into the libraries' plain structs, wrapped in cri::rpc()
// (logging, timing, error mapping). RPCs not implemented yet live in unimplemented.cc.
#include "cri/context.h"
#include "cri/proto/cri_api.h"

namespace crisp::cri {

class RuntimeServiceImpl final : public ::runtime::v1::RuntimeService::Service {
 public:
  explicit RuntimeServiceImpl(Context& ctx) : ctx_(ctx) {}

  grpc::Status Version(grpc::ServerContext* context, const ::runtime::v1::VersionRequest* request,
      ::runtime::v1::VersionResponse* response) override;
  grpc::Status RunPodSandbox(grpc::ServerContext* context, const ::runtime::v1::RunPodSandboxRequest* request,
      ::runtime::v1::RunPodSandboxResponse* response) override;
  grpc::Status StopPodSandbox(grpc::ServerContext* context, const ::runtime::v1::StopPodSandboxRequest* request,
      ::runtime::v1::StopPodSandboxResponse* response) override;
  grpc::Status RemovePodSandbox(grpc::ServerContext* context, const ::runtime::v1::RemovePodSandboxRequest* request,
      ::runtime::v1::RemovePodSandboxResponse* response) override;
  grpc::Status PodSandboxStatus(grpc::ServerContext* context, const ::runtime::v1::PodSandboxStatusRequest* request,
      ::runtime::v1::PodSandboxStatusResponse* response) override;
  grpc::Status ListPodSandbox(grpc::ServerContext* context, const ::runtime::v1::ListPodSandboxRequest* request,
      ::runtime::v1::ListPodSandboxResponse* response) override;
  grpc::Status StreamPodSandboxes(grpc::ServerContext* context, const ::runtime::v1::StreamPodSandboxesRequest* request,
      grpc::ServerWriter<::runtime::v1::StreamPodSandboxesResponse>* writer) override;
  grpc::Status CreateContainer(grpc::ServerContext* context, const ::runtime::v1::CreateContainerRequest* request,
      ::runtime::v1::CreateContainerResponse* response) override;
  grpc::Status StartContainer(grpc::ServerContext* context, const ::runtime::v1::StartContainerRequest* request,
      ::runtime::v1::StartContainerResponse* response) override;
  grpc::Status StopContainer(grpc::ServerContext* context, const ::runtime::v1::StopContainerRequest* request,
      ::runtime::v1::StopContainerResponse* response) override;
  grpc::Status RemoveContainer(grpc::ServerContext* context, const ::runtime::v1::RemoveContainerRequest* request,
      ::runtime::v1::RemoveContainerResponse* response) override;
  grpc::Status ListContainers(grpc::ServerContext* context, const ::runtime::v1::ListContainersRequest* request,
      ::runtime::v1::ListContainersResponse* response) override;
  grpc::Status StreamContainers(grpc::ServerContext* context, const ::runtime::v1::StreamContainersRequest* request,
      grpc::ServerWriter<::runtime::v1::StreamContainersResponse>* writer) override;
  grpc::Status ContainerStatus(grpc::ServerContext* context, const ::runtime::v1::ContainerStatusRequest* request,
      ::runtime::v1::ContainerStatusResponse* response) override;
  grpc::Status UpdateContainerResources(grpc::ServerContext* context, const ::runtime::v1::UpdateContainerResourcesRequest* request,
      ::runtime::v1::UpdateContainerResourcesResponse* response) override;
  grpc::Status ReopenContainerLog(grpc::ServerContext* context, const ::runtime::v1::ReopenContainerLogRequest* request,
      ::runtime::v1::ReopenContainerLogResponse* response) override;
  grpc::Status ExecSync(grpc::ServerContext* context, const ::runtime::v1::ExecSyncRequest* request,
      ::runtime::v1::ExecSyncResponse* response) override;
  grpc::Status Exec(grpc::ServerContext* context, const ::runtime::v1::ExecRequest* request,
      ::runtime::v1::ExecResponse* response) override;
  grpc::Status Attach(grpc::ServerContext* context, const ::runtime::v1::AttachRequest* request,
      ::runtime::v1::AttachResponse* response) override;
  grpc::Status PortForward(grpc::ServerContext* context, const ::runtime::v1::PortForwardRequest* request,
      ::runtime::v1::PortForwardResponse* response) override;
  grpc::Status ContainerStats(grpc::ServerContext* context, const ::runtime::v1::ContainerStatsRequest* request,
      ::runtime::v1::ContainerStatsResponse* response) override;
  grpc::Status ListContainerStats(grpc::ServerContext* context, const ::runtime::v1::ListContainerStatsRequest* request,
      ::runtime::v1::ListContainerStatsResponse* response) override;
  grpc::Status StreamContainerStats(grpc::ServerContext* context, const ::runtime::v1::StreamContainerStatsRequest* request,
      grpc::ServerWriter<::runtime::v1::StreamContainerStatsResponse>* writer) override;
  grpc::Status PodSandboxStats(grpc::ServerContext* context, const ::runtime::v1::PodSandboxStatsRequest* request,
      ::runtime::v1::PodSandboxStatsResponse* response) override;
  grpc::Status ListPodSandboxStats(grpc::ServerContext* context, const ::runtime::v1::ListPodSandboxStatsRequest* request,
      ::runtime::v1::ListPodSandboxStatsResponse* response) override;
  grpc::Status StreamPodSandboxStats(grpc::ServerContext* context, const ::runtime::v1::StreamPodSandboxStatsRequest* request,
      grpc::ServerWriter<::runtime::v1::StreamPodSandboxStatsResponse>* writer) override;
  grpc::Status UpdateRuntimeConfig(grpc::ServerContext* context, const ::runtime::v1::UpdateRuntimeConfigRequest* request,
      ::runtime::v1::UpdateRuntimeConfigResponse* response) override;
  grpc::Status Status(grpc::ServerContext* context, const ::runtime::v1::StatusRequest* request,
      ::runtime::v1::StatusResponse* response) override;
  grpc::Status CheckpointContainer(grpc::ServerContext* context, const ::runtime::v1::CheckpointContainerRequest* request,
      ::runtime::v1::CheckpointContainerResponse* response) override;
  grpc::Status GetContainerEvents(grpc::ServerContext* context, const ::runtime::v1::GetEventsRequest* request,
      grpc::ServerWriter<::runtime::v1::ContainerEventResponse>* writer) override;
  grpc::Status ListMetricDescriptors(grpc::ServerContext* context, const ::runtime::v1::ListMetricDescriptorsRequest* request,
      ::runtime::v1::ListMetricDescriptorsResponse* response) override;
  grpc::Status ListPodSandboxMetrics(grpc::ServerContext* context, const ::runtime::v1::ListPodSandboxMetricsRequest* request,
      ::runtime::v1::ListPodSandboxMetricsResponse* response) override;
  grpc::Status StreamPodSandboxMetrics(grpc::ServerContext* context, const ::runtime::v1::StreamPodSandboxMetricsRequest* request,
      grpc::ServerWriter<::runtime::v1::StreamPodSandboxMetricsResponse>* writer) override;
  grpc::Status RuntimeConfig(grpc::ServerContext* context, const ::runtime::v1::RuntimeConfigRequest* request,
      ::runtime::v1::RuntimeConfigResponse* response) override;
  grpc::Status UpdatePodSandboxResources(grpc::ServerContext* context, const ::runtime::v1::UpdatePodSandboxResourcesRequest* request,
      ::runtime::v1::UpdatePodSandboxResourcesResponse* response) override;

 private:
  Context& ctx_;  // not owned; outlives the service
};

}  // namespace crisp::cri
