// StopPodSandbox: releases the pod's network (IP, host ports, CNI DEL), then stops every container
// of the pod (SIGKILL) and drops its network namespace; idempotent.
#include "cri/rpc.h"
#include "cri/runtime_service/convert.h"
#include "cri/runtime_service/pod_network.h"
#include "cri/runtime_service/runtime_service.h"
#include "runtime/runtime.h"

namespace crisp::cri {

grpc::Status RuntimeServiceImpl::StopPodSandbox(grpc::ServerContext*, const ::runtime::v1::StopPodSandboxRequest* request,
                                                ::runtime::v1::StopPodSandboxResponse*) {
  return rpc("StopPodSandbox", *request, [&] {
    auto& runtime = require_runtime(ctx_.runtime);
    runtime::SandboxInfo info = runtime.sandbox_status(request->pod_sandbox_id());
    // The netns goes with stop_sandbox: no veth delete on this path (it costs tens of ms).
    if (!info.netns_path.empty() && ctx_.network) ctx_.network->teardown(pod_network_request(info), true);
    runtime.stop_sandbox(info.id);
  });
}

}  // namespace crisp::cri
