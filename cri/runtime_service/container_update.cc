// UpdateContainerResources and UpdatePodSandboxResources: new cgroup limits, applied live.
#include "cri/rpc.h"
#include "cri/runtime_service/convert.h"
#include "cri/runtime_service/limits_convert.h"
#include "cri/runtime_service/runtime_service.h"
#include "runtime/base/error.h"
#include "runtime/runtime.h"

namespace crisp::cri {

grpc::Status RuntimeServiceImpl::UpdateContainerResources(grpc::ServerContext*,
                                                          const ::runtime::v1::UpdateContainerResourcesRequest* request,
                                                          ::runtime::v1::UpdateContainerResourcesResponse*) {
  return rpc("UpdateContainerResources", *request, [&] {
    if (!request->has_linux()) {
      throw Error(ErrorKind::kInvalidArgument, "UpdateContainerResources: no linux resources given");
    }
    require_runtime(ctx_.runtime)
        .update_container_resources(request->container_id(), cgroup_resources_from_cri(request->linux()),
                                    oom_score_adj_from_cri(request->linux()));
  });
}

grpc::Status RuntimeServiceImpl::UpdatePodSandboxResources(grpc::ServerContext*,
                                                           const ::runtime::v1::UpdatePodSandboxResourcesRequest* request,
                                                           ::runtime::v1::UpdatePodSandboxResourcesResponse*) {
  return rpc("UpdatePodSandboxResources", *request, [&] {
    cgroups::CgroupResources resources;
    if (request->has_resources()) resources = cgroup_resources_from_cri(request->resources());
    require_runtime(ctx_.runtime).update_sandbox_resources(request->pod_sandbox_id(), resources);
  });
}

}  // namespace crisp::cri
