// StartContainer: launches the container's crisp-monitor and waits until the process runs.
#include "cri/rpc.h"
#include "cri/runtime_service/convert.h"
#include "cri/runtime_service/runtime_service.h"
#include "runtime/runtime.h"

namespace crisp::cri {

grpc::Status RuntimeServiceImpl::StartContainer(grpc::ServerContext*, const ::runtime::v1::StartContainerRequest* request,
                                                ::runtime::v1::StartContainerResponse*) {
  return rpc("StartContainer", *request, [&] { require_runtime(ctx_.runtime).start_container(request->container_id()); });
}

}  // namespace crisp::cri
