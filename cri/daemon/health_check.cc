#include "cri/daemon/health_check.h"

#include <grpcpp/grpcpp.h>

#include "cri/proto/cri_api.h"

namespace crisp::cri {

struct CriHealthCheck::Client {
  std::shared_ptr<grpc::Channel> channel;
  std::unique_ptr<::runtime::v1::RuntimeService::Stub> stub;
};

CriHealthCheck::CriHealthCheck(const std::string& socket_path) : client_(std::make_unique<Client>()) {
  grpc::ChannelArguments args;
  // Probe often without gRPC backing off for seconds after a failed attempt.
  args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 100);
  args.SetInt(GRPC_ARG_MIN_RECONNECT_BACKOFF_MS, 100);
  args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 1000);
  client_->channel = grpc::CreateCustomChannel("unix://" + socket_path, grpc::InsecureChannelCredentials(), args);
  client_->stub = ::runtime::v1::RuntimeService::NewStub(client_->channel);
}

CriHealthCheck::~CriHealthCheck() = default;

bool CriHealthCheck::operator()(std::chrono::milliseconds deadline) {
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + deadline);
  ctx.set_wait_for_ready(true);  // a reconnect in progress is not a failure until the deadline
  ::runtime::v1::VersionRequest request;
  ::runtime::v1::VersionResponse response;
  return client_->stub->Version(&ctx, request, &response).ok() && !response.runtime_name().empty();
}

}  // namespace crisp::cri
