// RunPodSandbox: the pod's namespaces, files and (pid POD) pod-init — no pause image — then its
// network (built-in bridge or CNI) unless the pod uses the host's.
#include "cri/rpc.h"
#include "cri/runtime_service/convert.h"
#include "cri/runtime_service/pod_network.h"
#include "cri/runtime_service/runtime_service.h"
#include "runtime/base/cleanup.h"
#include "runtime/runtime.h"

namespace crisp::cri {

grpc::Status RuntimeServiceImpl::RunPodSandbox(grpc::ServerContext*, const ::runtime::v1::RunPodSandboxRequest* request,
                                               ::runtime::v1::RunPodSandboxResponse* response) {
  return rpc("RunPodSandbox", *request, [&] {
    auto& runtime = require_runtime(ctx_.runtime);
    auto config = sandbox_config_from_cri(request->config(), request->runtime_handler());
    std::string id = runtime.run_sandbox(config);
    Cleanup remove_sandbox([&] { runtime.remove_sandbox(id); });
    runtime::SandboxInfo info = runtime.sandbox_status(id);
    if (!info.netns_path.empty()) {
      if (!ctx_.network) throw Error(ErrorKind::kUnavailable, "pod networking is not initialised");
      auto req = pod_network_request(info, &request->config());
      network::PodNetworkResult result = ctx_.network->setup(req);  // leaves nothing behind on failure
      Cleanup teardown([&] { ctx_.network->teardown(req); });
      runtime.set_sandbox_network(id, result.ip, result.additional_ips);
      teardown.dismiss();
    }
    remove_sandbox.dismiss();
    response->set_pod_sandbox_id(id);
  });
}

}  // namespace crisp::cri
