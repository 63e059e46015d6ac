// ReopenContainerLog: asks the container's monitor to reopen its log (after the kubelet rotated it).
#include "cri/rpc.h"
#include "cri/runtime_service/convert.h"
#include "cri/runtime_service/runtime_service.h"
#include "runtime/runtime.h"

namespace crisp::cri {

grpc::Status RuntimeServiceImpl::ReopenContainerLog(grpc::ServerContext*, const ::runtime::v1::ReopenContainerLogRequest* request,
                                                    ::runtime::v1::ReopenContainerLogResponse*) {
  return rpc("ReopenContainerLog", *request, [&] { require_runtime(ctx_.runtime).reopen_container_log(request->container_id()); });
}

}  // namespace crisp::cri
