// Attach: validates the request and returns a single-use streaming URL; the client is connected
// to the container's stdio through its monitor (stdin only if the container was created with it).
#include "cri/rpc.h"
#include "cri/runtime_service/convert.h"
#include "cri/runtime_service/runtime_service.h"
#include "cri/runtime_service/stream_urls.h"
#include "cri/streaming/server.h"
#include "runtime/base/error.h"
#include "runtime/runtime.h"

namespace crisp::cri {

grpc::Status RuntimeServiceImpl::Attach(grpc::ServerContext*, const ::runtime::v1::AttachRequest* request,
                                        ::runtime::v1::AttachResponse* response) {
  return rpc("Attach", *request, [&] {
    validate_stream_flags(request->tty(), request->stdin(), request->stdout(), request->stderr());
    auto info = require_runtime(ctx_.runtime).container_status(request->container_id());
    if (info.state != runtime::ContainerState::kRunning) {
      throw Error(ErrorKind::kFailedPrecondition, "container " + info.id + " is not running");
    }
    streaming::AttachSpec spec;
    spec.container_id = info.id;
    spec.tty = info.config.tty;  // the container's terminal decides how its output looks
    spec.stdin = request->stdin() && info.config.stdin;
    spec.stdout = request->stdout();
    spec.stderr = request->stderr() && !info.config.tty;
    response->set_url(require_streaming(ctx_.streaming).attach_url(std::move(spec)));
  });
}

}  // namespace crisp::cri
