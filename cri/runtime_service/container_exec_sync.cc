// ExecSync: runs a command in the container and returns its output and exit code. A timeout is
// reported as DEADLINE_EXCEEDED, which the kubelet turns into a timed-out probe.
#include "cri/rpc.h"
#include "cri/runtime_service/convert.h"
#include "cri/runtime_service/runtime_service.h"
#include "runtime/runtime.h"
#include "runtime/base/error.h"

namespace crisp::cri {

grpc::Status RuntimeServiceImpl::ExecSync(grpc::ServerContext*, const ::runtime::v1::ExecSyncRequest* request,
                                          ::runtime::v1::ExecSyncResponse* response) {
  return rpc("ExecSync", *request, [&] {
    std::vector<std::string> cmd(request->cmd().begin(), request->cmd().end());
    if (cmd.empty()) throw Error(ErrorKind::kInvalidArgument, "ExecSync: cmd is empty");
    auto timeout = std::chrono::seconds(request->timeout() < 0 ? 0 : request->timeout());
    auto result = require_runtime(ctx_.runtime).exec_sync(request->container_id(), cmd, timeout);
    if (result.timed_out) {
      throw Error(ErrorKind::kDeadlineExceeded,
                  "command timed out after " + std::to_string(request->timeout()) + "s");
    }
    response->set_stdout(result.stdout_data);
    response->set_stderr(result.stderr_data);
    response->set_exit_code(result.exit_code);
  });
}

}  // namespace crisp::cri
