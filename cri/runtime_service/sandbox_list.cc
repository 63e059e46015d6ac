// ListPodSandbox and StreamPodSandboxes: filters by id (or prefix), state and label selector.
#include "cri/rpc.h"
#include "cri/runtime_service/convert.h"
#include "cri/runtime_service/runtime_service.h"
#include "runtime/runtime.h"

namespace crisp::cri {

grpc::Status RuntimeServiceImpl::ListPodSandbox(grpc::ServerContext*, const ::runtime::v1::ListPodSandboxRequest* request,
                                                ::runtime::v1::ListPodSandboxResponse* response) {
  return rpc("ListPodSandbox", *request, [&] {
    auto& runtime = require_runtime(ctx_.runtime);
    for (const auto& info : runtime.list_sandboxes(sandbox_filter_from_cri(request->filter()))) {
      fill_pod_sandbox(info, response->add_items());
    }
  });
}

// The streaming form for lists too large for one message: pages of up to kPage sandboxes.
grpc::Status RuntimeServiceImpl::StreamPodSandboxes(grpc::ServerContext*, const ::runtime::v1::StreamPodSandboxesRequest* request,
                                                    grpc::ServerWriter<::runtime::v1::StreamPodSandboxesResponse>* writer) {
  constexpr int kPage = 1000;
  return rpc("StreamPodSandboxes", *request, [&] {
    auto& runtime = require_runtime(ctx_.runtime);
    ::runtime::v1::StreamPodSandboxesResponse page;
    for (const auto& info : runtime.list_sandboxes(sandbox_filter_from_cri(request->filter()))) {
      fill_pod_sandbox(info, page.add_pod_sandboxes());
      if (page.pod_sandboxes_size() == kPage) {
        if (!writer->Write(page)) return;
        page.Clear();
      }
    }
    if (page.pod_sandboxes_size() > 0) writer->Write(page);
  });
}

}  // namespace crisp::cri
