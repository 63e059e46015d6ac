// PortForward: returns a single-use streaming URL; each forwarded connection is a TCP connection
// to 127.0.0.1:<port> made inside the pod's network namespace.
#include "cri/rpc.h"
#include "cri/runtime_service/convert.h"
#include "cri/runtime_service/runtime_service.h"
#include "cri/runtime_service/stream_urls.h"
#include "cri/streaming/server.h"
#include "runtime/base/error.h"
#include "runtime/runtime.h"

namespace crisp::cri {

grpc::Status RuntimeServiceImpl::PortForward(grpc::ServerContext*, const ::runtime::v1::PortForwardRequest* request,
                                             ::runtime::v1::PortForwardResponse* response) {
  return rpc("PortForward", *request, [&] {
    auto sandbox = require_runtime(ctx_.runtime).sandbox_status(request->pod_sandbox_id());
    if (sandbox.state != runtime::SandboxState::kReady) {
      throw Error(ErrorKind::kFailedPrecondition, "sandbox " + sandbox.id + " is not ready");
    }
    streaming::PortForwardSpec spec;
    spec.sandbox_id = sandbox.id;
    for (int32_t port : request->port()) {
      if (port <= 0 || port > 65535) {
        throw Error(ErrorKind::kInvalidArgument, "PortForward: invalid port " + std::to_string(port));
      }
      spec.ports.push_back(static_cast<uint16_t>(port));
    }
    response->set_url(require_streaming(ctx_.streaming).port_forward_url(std::move(spec)));
  });
}

}  // namespace crisp::cri
