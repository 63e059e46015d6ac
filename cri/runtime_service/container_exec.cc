// Exec: validates the request and returns a single-use streaming URL; the command runs when the
// client connects to it (cri/streaming/, exec through RuntimeStreamBackend).
#include "cri/rpc.h"
#include "cri/runtime_service/convert.h"
#include "cri/runtime_service/runtime_service.h"
#include "cri/runtime_service/stream_urls.h"
#include "cri/streaming/server.h"
#include "runtime/base/error.h"
#include "runtime/runtime.h"

namespace crisp::cri {

grpc::Status RuntimeServiceImpl::Exec(grpc::ServerContext*, const ::runtime::v1::ExecRequest* request,
                                      ::runtime::v1::ExecResponse* response) {
  return rpc("Exec", *request, [&] {
    if (request->cmd().empty()) throw Error(ErrorKind::kInvalidArgument, "Exec: cmd is empty");
    validate_stream_flags(request->tty(), request->stdin(), request->stdout(), request->stderr());
    auto info = require_runtime(ctx_.runtime).container_status(request->container_id());
    if (info.state != runtime::ContainerState::kRunning) {
      throw Error(ErrorKind::kFailedPrecondition, "container " + info.id + " is not running");
    }
    streaming::ExecSpec spec;
    spec.container_id = info.id;
    spec.cmd.assign(request->cmd().begin(), request->cmd().end());
    spec.tty = request->tty();
    spec.stdin = request->stdin();
    spec.stdout = request->stdout();
    spec.stderr = request->stderr();
    response->set_url(require_streaming(ctx_.streaming).exec_url(std::move(spec)));
  });
}

}  // namespace crisp::cri
