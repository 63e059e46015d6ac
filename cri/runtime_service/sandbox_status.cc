// PodSandboxStatus: the pod, its IPs and (for the evented PLEG) the statuses of its containers.
#include "cri/rpc.h"
#include "cri/runtime_service/convert.h"
#include "cri/runtime_service/runtime_service.h"
#include "runtime/runtime.h"
#include "runtime/process_util.h"

namespace crisp::cri {

grpc::Status RuntimeServiceImpl::PodSandboxStatus(grpc::ServerContext*, const ::runtime::v1::PodSandboxStatusRequest* request,
                                                  ::runtime::v1::PodSandboxStatusResponse* response) {
  return rpc("PodSandboxStatus", *request, [&] {
    auto& runtime = require_runtime(ctx_.runtime);
    auto info = runtime.sandbox_status(request->pod_sandbox_id());
    fill_pod_sandbox_status(info, response->mutable_status());
    runtime::ContainerFilter filter;
    filter.sandbox_id = info.id;
    for (const auto& container : runtime.list_containers(filter)) {
      fill_container_status(container, response->add_containers_statuses());
    }
    response->set_timestamp(runtime::now_ns());
    if (request->verbose()) (*response->mutable_info())["info"] = sandbox_verbose_info(info);
  });
}

}  // namespace crisp::cri
