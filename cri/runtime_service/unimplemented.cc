// RuntimeService RPCs crisp does not implement yet: each answers UNIMPLEMENTED naming itself.
// When an RPC is implemented, move it out of this file into its family's file.
#include "cri/runtime_service/runtime_service.h"
#include "cri/rpc.h"

namespace crisp::cri {

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-parameter"

grpc::Status RuntimeServiceImpl::StreamContainerStats(grpc::ServerContext* context, const ::runtime::v1::StreamContainerStatsRequest* request,
       grpc::ServerWriter<::runtime::v1::StreamContainerStatsResponse>* writer) {
  return unimplemented("StreamContainerStats");
}

grpc::Status RuntimeServiceImpl::StreamPodSandboxStats(grpc::ServerContext* context, const ::runtime::v1::StreamPodSandboxStatsRequest* request,
       grpc::ServerWriter<::runtime::v1::StreamPodSandboxStatsResponse>* writer) {
  return unimplemented("StreamPodSandboxStats");
}

grpc::Status RuntimeServiceImpl::CheckpointContainer(grpc::ServerContext* context, const ::runtime::v1::CheckpointContainerRequest* request,
       ::runtime::v1::CheckpointContainerResponse* response) {
  return unimplemented("CheckpointContainer");
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

#pragma GCC diagnostic pop

}  // namespace crisp::cri
