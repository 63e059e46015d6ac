// Version: runtime name and versions.
#include "cri/rpc.h"
#include "cri/runtime_service/runtime_service.h"

namespace crisp::cri {

grpc::Status RuntimeServiceImpl::Version(grpc::ServerContext*, const ::runtime::v1::VersionRequest*,
                                         ::runtime::v1::VersionResponse* response) {
  return rpc("Version", [&] {
    response->set_version("0.1.0");  // the kubelet's API version of the Version call itself
    response->set_runtime_name("crisp");
    response->set_runtime_version(crisp_version());
    response->set_runtime_api_version("v1");
  });
}

}  // namespace crisp::cri
