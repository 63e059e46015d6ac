// RemoveContainer: stops it if needed, unmounts and releases the rootfs (through the runtime's
// release_rootfs hook), removes its state; the log stays (the kubelet owns it). Idempotent.
#include "cri/rpc.h"
#include "cri/runtime_service/convert.h"
#include "cri/runtime_service/runtime_service.h"
#include "runtime/runtime.h"

namespace crisp::cri {

grpc::Status RuntimeServiceImpl::RemoveContainer(grpc::ServerContext*, const ::runtime::v1::RemoveContainerRequest* request,
                                                 ::runtime::v1::RemoveContainerResponse*) {
  return rpc("RemoveContainer", *request, [&] { require_runtime(ctx_.runtime).remove_container(request->container_id()); });
}

}  // namespace crisp::cri
