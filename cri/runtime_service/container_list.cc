// ListContainers and StreamContainers: filters by id (or prefix), state, pod sandbox id and label selector.
#include "cri/rpc.h"
#include "cri/runtime_service/convert.h"
#include "cri/runtime_service/runtime_service.h"
#include "runtime/runtime.h"

namespace crisp::cri {

grpc::Status RuntimeServiceImpl::ListContainers(grpc::ServerContext*, const ::runtime::v1::ListContainersRequest* request,
                                                ::runtime::v1::ListContainersResponse* response) {
  return rpc("ListContainers", *request, [&] {
    auto& runtime = require_runtime(ctx_.runtime);
    for (const auto& info : runtime.list_containers(container_filter_from_cri(request->filter()))) {
      fill_container(info, response->add_containers());
    }
  });
}

// The streaming form for lists too large for one message: pages of up to kPage containers.
grpc::Status RuntimeServiceImpl::StreamContainers(grpc::ServerContext*, const ::runtime::v1::StreamContainersRequest* request,
                                                  grpc::ServerWriter<::runtime::v1::StreamContainersResponse>* writer) {
  constexpr int kPage = 1000;
  return rpc("StreamContainers", *request, [&] {
    auto& runtime = require_runtime(ctx_.runtime);
    ::runtime::v1::StreamContainersResponse page;
    for (const auto& info : runtime.list_containers(container_filter_from_cri(request->filter()))) {
      fill_container(info, page.add_containers());
      if (page.containers_size() == kPage) {
        if (!writer->Write(page)) return;
        page.Clear();
      }
    }
    if (page.containers_size() > 0) writer->Write(page);
  });
}

}  // namespace crisp::cri
