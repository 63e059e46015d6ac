// StopContainer: the image's stop signal (or SIGTERM), SIGKILL after timeout; idempotent.
#include "cri/rpc.h"
#include "cri/runtime_service/convert.h"
#include "cri/runtime_service/runtime_service.h"
#include "runtime/runtime.h"

namespace crisp::cri {

grpc::Status RuntimeServiceImpl::StopContainer(grpc::ServerContext*, const ::runtime::v1::StopContainerRequest* request,
                                               ::runtime::v1::StopContainerResponse*) {
  return rpc("StopContainer", *request, [&] {
    int64_t timeout = request->timeout() < 0 ? 0 : request->timeout();
    require_runtime(ctx_.runtime).stop_container(request->container_id(), std::chrono::seconds(timeout));
  });
}

}  // namespace crisp::cri
