// ContainerStatus: state, times, exit code and reason, image, mounts, log path; verbose: pid + spec.
#include "cri/rpc.h"
#include "cri/runtime_service/convert.h"
#include "cri/runtime_service/runtime_service.h"
#include "runtime/runtime.h"

namespace crisp::cri {

grpc::Status RuntimeServiceImpl::ContainerStatus(grpc::ServerContext*, const ::runtime::v1::ContainerStatusRequest* request,
                                                 ::runtime::v1::ContainerStatusResponse* response) {
  return rpc("ContainerStatus", *request, [&] {
    auto info = require_runtime(ctx_.runtime).container_status(request->container_id());
    fill_container_status(info, response->mutable_status());
    if (request->verbose()) (*response->mutable_info())["info"] = container_verbose_info(info);
  });
}

}  // namespace crisp::cri
