// RemovePodSandbox: removes the pod's containers, network, namespaces and files; an unknown id is
// not an error.
#include "cri/rpc.h"
#include "cri/runtime_service/convert.h"
#include "cri/runtime_service/pod_network.h"
#include "cri/runtime_service/runtime_service.h"
#include "runtime/runtime.h"

namespace crisp::cri {

grpc::Status RuntimeServiceImpl::RemovePodSandbox(grpc::ServerContext*, const ::runtime::v1::RemovePodSandboxRequest* request,
                                                  ::runtime::v1::RemovePodSandboxResponse*) {
  return rpc("RemovePodSandbox", *request, [&] {
    auto& runtime = require_runtime(ctx_.runtime);
    std::optional<runtime::SandboxInfo> info;
    try {
      info = runtime.sandbox_status(request->pod_sandbox_id());
    } catch (const Error& e) {
      if (e.kind() != ErrorKind::kNotFound) throw;
      return;
    }
    // Idempotent: a no-op when StopPodSandbox already released the network.
    if (!info->netns_path.empty() && ctx_.network) ctx_.network->teardown(pod_network_request(*info), true);
    runtime.remove_sandbox(info->id);
  });
}

}  // namespace crisp::cri
