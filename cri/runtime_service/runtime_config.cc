// RuntimeConfig and UpdateRuntimeConfig: the cgroup driver the kubelet must match, and the pod CIDR
// the kubelet hands down.
#include "cri/rpc.h"
#include "cri/runtime_service/runtime_service.h"
#include "network/network.h"

namespace crisp::cri {

grpc::Status RuntimeServiceImpl::RuntimeConfig(grpc::ServerContext*, const ::runtime::v1::RuntimeConfigRequest*,
                                               ::runtime::v1::RuntimeConfigResponse* response) {
  return rpc("RuntimeConfig", [&] {
    response->mutable_linux()->set_cgroup_driver(ctx_.cgroup_driver == "systemd" ? ::runtime::v1::SYSTEMD
                                                                                 : ::runtime::v1::CGROUPFS);
  });
}

grpc::Status RuntimeServiceImpl::UpdateRuntimeConfig(grpc::ServerContext*,
                                                     const ::runtime::v1::UpdateRuntimeConfigRequest* request,
                                                     ::runtime::v1::UpdateRuntimeConfigResponse*) {
  return rpc("UpdateRuntimeConfig", *request, [&] {
    // One CIDR, or the kubelet's dual-stack list ("10.88.0.0/16,fd00:88::/64"; the first one is the
    // pods' primary IP family). A bad value is refused (InvalidArgument) and changes nothing.
    const std::string& cidr = request->runtime_config().network_config().pod_cidr();
    if (cidr.empty()) return;
    std::lock_guard<std::mutex> lock(ctx_.mu);  // also orders concurrent updates
    if (cidr == ctx_.pod_cidr) return;
    if (ctx_.network) ctx_.network->set_pod_cidr(cidr);
    ctx_.pod_cidr = cidr;
  });
}

}  // namespace crisp::cri
