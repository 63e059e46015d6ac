// RuntimeService RPCs crisp does not implement yet: each answers UNIMPLEMENTED naming itself.
// When an RPC is implemented, move it out of this file into its family's file.
#include "cri/runtime_service/runtime_service.h"
#include "cri/rpc.h"

namespace crisp::cri {

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-parameter"

grpc::Status RuntimeServiceImpl::RunPodSandbox(grpc::ServerContext* context, const ::runtime::v1::RunPodSandboxRequest* request,
       ::runtime::v1::RunPodSandboxResponse* response) {
  return unimplemented("RunPodSandbox");
}

grpc::Status RuntimeServiceImpl::StopPodSandbox(grpc::ServerContext* context, const ::runtime::v1::StopPodSandboxRequest* request,
       ::runtime::v1::StopPodSandboxResponse* response) {
  return unimplemented("StopPodSandbox");
}

grpc::Status RuntimeServiceImpl::RemovePodSandbox(grpc::ServerContext* context, const ::runtime::v1::RemovePodSandboxRequest* request,
       ::runtime::v1::RemovePodSandboxResponse* response) {
  return unimplemented("RemovePodSandbox");
}

grpc::Status RuntimeServiceImpl::PodSandboxStatus(grpc::ServerContext* context, const ::runtime::v1::PodSandboxStatusRequest* request,
       ::runtime::v1::PodSandboxStatusResponse* response) {
  return unimplemented("PodSandboxStatus");
}

grpc::Status RuntimeServiceImpl::ListPodSandbox(grpc::ServerContext* context, const ::runtime::v1::ListPodSandboxRequest* request,
       ::runtime::v1::ListPodSandboxResponse* response) {
  return unimplemented("ListPodSandbox");
}

grpc::Status RuntimeServiceImpl::StreamPodSandboxes(grpc::ServerContext* context, const ::runtime::v1::StreamPodSandboxesRequest* request,
       grpc::ServerWriter<::runtime::v1::StreamPodSandboxesResponse>* writer) {
  return unimplemented("StreamPodSandboxes");
}

grpc::Status RuntimeServiceImpl::CreateContainer(grpc::ServerContext* context, const ::runtime::v1::CreateContainerRequest* request,
       ::runtime::v1::CreateContainerResponse* response) {
  return unimplemented("CreateContainer");
}

grpc::Status RuntimeServiceImpl::StartContainer(grpc::ServerContext* context, const ::runtime::v1::StartContainerRequest* request,
       ::runtime::v1::StartContainerResponse* response) {
  return unimplemented("StartContainer");
}

grpc::Status RuntimeServiceImpl::StopContainer(grpc::ServerContext* context, const ::runtime::v1::StopContainerRequest* request,
       ::runtime::v1::StopContainerResponse* response) {
  return unimplemented("StopContainer");
}

grpc::Status RuntimeServiceImpl::RemoveContainer(grpc::ServerContext* context, const ::runtime::v1::RemoveContainerRequest* request,
       ::runtime::v1::RemoveContainerResponse* response) {
  return unimplemented("RemoveContainer");
}

grpc::Status RuntimeServiceImpl::ListContainers(grpc::ServerContext* context, const ::runtime::v1::ListContainersRequest* request,
       ::runtime::v1::ListContainersResponse* response) {
  return unimplemented("ListContainers");
}

grpc::Status RuntimeServiceImpl::StreamContainers(grpc::ServerContext* context, const ::runtime::v1::StreamContainersRequest* request,
       grpc::ServerWriter<::runtime::v1::StreamContainersResponse>* writer) {
  return unimplemented("StreamContainers");
}

grpc::Status RuntimeServiceImpl::ContainerStatus(grpc::ServerContext* context, const ::runtime::v1::ContainerStatusRequest* request,
       ::runtime::v1::ContainerStatusResponse* response) {
  return unimplemented("ContainerStatus");
}

grpc::Status RuntimeServiceImpl::UpdateContainerResources(grpc::ServerContext* context, const ::runtime::v1::UpdateContainerResourcesRequest* request,
       ::runtime::v1::UpdateContainerResourcesResponse* response) {
  return unimplemented("UpdateContainerResources");
}

grpc::Status RuntimeServiceImpl::ReopenContainerLog(grpc::ServerContext* context, const ::runtime::v1::ReopenContainerLogRequest* request,
       ::runtime::v1::ReopenContainerLogResponse* response) {
  return unimplemented("ReopenContainerLog");
}

grpc::Status RuntimeServiceImpl::ExecSync(grpc::ServerContext* context, const ::runtime::v1::ExecSyncRequest* request,
       ::runtime::v1::ExecSyncResponse* response) {
  return unimplemented("ExecSync");
}

grpc::Status RuntimeServiceImpl::Exec(grpc::ServerContext* context, const ::runtime::v1::ExecRequest* request,
       ::runtime::v1::ExecResponse* response) {
  return unimplemented("Exec");
}

grpc::Status RuntimeServiceImpl::Attach(grpc::ServerContext* context, const ::runtime::v1::AttachRequest* request,
       ::runtime::v1::AttachResponse* response) {
  return unimplemented("Attach");
}

grpc::Status RuntimeServiceImpl::PortForward(grpc::ServerContext* context, const ::runtime::v1::PortForwardRequest* request,
       ::runtime::v1::PortForwardResponse* response) {
  return unimplemented("PortForward");
}

grpc::Status RuntimeServiceImpl::ContainerStats(grpc::ServerContext* context, const ::runtime::v1::ContainerStatsRequest* request,
       ::runtime::v1::ContainerStatsResponse* response) {
  return unimplemented("ContainerStats");
}

grpc::Status RuntimeServiceImpl::ListContainerStats(grpc::ServerContext* context, const ::runtime::v1::ListContainerStatsRequest* request,
       ::runtime::v1::ListContainerStatsResponse* response) {
  return unimplemented("ListContainerStats");
}

grpc::Status RuntimeServiceImpl::StreamContainerStats(grpc::ServerContext* context, const ::runtime::v1::StreamContainerStatsRequest* request,
       grpc::ServerWriter<::runtime::v1::StreamContainerStatsResponse>* writer) {
  return unimplemented("StreamContainerStats");
}

grpc::Status RuntimeServiceImpl::PodSandboxStats(grpc::ServerContext* context, const ::runtime::v1::PodSandboxStatsRequest* request,
       ::runtime::v1::PodSandboxStatsResponse* response) {
  return unimplemented("PodSandboxStats");
}

grpc::Status RuntimeServiceImpl::ListPodSandboxStats(grpc::ServerContext* context, const ::runtime::v1::ListPodSandboxStatsRequest* request,
       ::runtime::v1::ListPodSandboxStatsResponse* response) {
  return unimplemented("ListPodSandboxStats");
}

grpc::Status RuntimeServiceImpl::StreamPodSandboxStats(grpc::ServerContext* context, const ::runtime::v1::StreamPodSandboxStatsRequest* request,
       grpc::ServerWriter<::runtime::v1::StreamPodSandboxStatsResponse>* writer) {
  return unimplemented("StreamPodSandboxStats");
}

grpc::Status RuntimeServiceImpl::CheckpointContainer(grpc::ServerContext* context, const ::runtime::v1::CheckpointContainerRequest* request,
       ::runtime::v1::CheckpointContainerResponse* response) {
  return unimplemented("CheckpointContainer");
}

grpc::Status RuntimeServiceImpl::GetContainerEvents(grpc::ServerContext* context, const ::runtime::v1::GetEventsRequest* request,
       grpc::ServerWriter<::runtime::v1::ContainerEventResponse>* writer) {
  return unimplemented("GetContainerEvents");
}

grpc::Status RuntimeServiceImpl::ListMetricDescriptors(grpc::ServerContext* context, const ::runtime::v1::ListMetricDescriptorsRequest* request,
       ::runtime::v1::ListMetricDescriptorsResponse* response) {
  return unimplemented("ListMetricDescriptors");
}

grpc::Status RuntimeServiceImpl::ListPodSandboxMetrics(grpc::ServerContext* context, const ::runtime::v1::ListPodSandboxMetricsRequest* request,
       ::runtime::v1::ListPodSandboxMetricsResponse* response) {
  return unimplemented("ListPodSandboxMetrics");
}

grpc::Status RuntimeServiceImpl::StreamPodSandboxMetrics(grpc::ServerContext* context, const ::runtime::v1::StreamPodSandboxMetricsRequest* request,
       grpc::ServerWriter<::runtime::v1::StreamPodSandboxMetricsResponse>* writer) {
  return unimplemented("StreamPodSandboxMetrics");
}

grpc::Status RuntimeServiceImpl::UpdatePodSandboxResources(grpc::ServerContext* context, const ::runtime::v1::UpdatePodSandboxResourcesRequest* request,
       ::runtime::v1::UpdatePodSandboxResourcesResponse* response) {
  return unimplemented("UpdatePodSandboxResources");
}

#pragma GCC diagnostic pop

}  // namespace crisp::cri
