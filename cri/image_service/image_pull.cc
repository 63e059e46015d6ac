// PullImage: pulls through the image service (resolve, layers, record) and returns the image id.
#include <chrono>

#include "cri/image_service/image_service.h"
#include "cri/metrics/crispd_metrics.h"
#include "cri/rpc.h"
#include "image/image_service.h"
#include "runtime/base/error.h"

namespace crisp::cri {

grpc::Status ImageServiceImpl::PullImage(grpc::ServerContext* context, const ::runtime::v1::PullImageRequest* request,
                                         ::runtime::v1::PullImageResponse* response) {
  return rpc("PullImage", *request, [&] {
    if (!ctx_.images) throw Error(ErrorKind::kUnavailable, "the image service is not running");
    crisp::image::PullRequest pull;
    pull.ref = request->image().image();
    if (pull.ref.empty()) throw Error(ErrorKind::kInvalidArgument, "PullImage: image.image is empty");
    for (const auto& [k, v] : request->image().annotations()) pull.annotations[k] = v;
    const auto& auth = request->auth();
    pull.auth.username = auth.username();
    pull.auth.password = auth.password();
    pull.auth.auth = auth.auth();
    pull.auth.identity_token = auth.identity_token();
    pull.auth.registry_token = auth.registry_token();
    // A kubelet that gives up (deadline, cancel) or a crispd shutdown stops the download.
    pull.cancelled = [context] { return context->IsCancelled(); };
    // Metrics: the outcome, the time, and the layer bytes fetched from the registry.
    auto start = std::chrono::steady_clock::now();
    std::atomic<uint64_t> downloaded{0};
    pull.bytes_downloaded = &downloaded;
    std::string id;
    try {
      id = ctx_.images->pull(pull);
    } catch (...) {
      crisp::metrics::record_image_pull(false, downloaded.load(), std::chrono::steady_clock::now() - start);
      throw;
    }
    crisp::metrics::record_image_pull(true, downloaded.load(), std::chrono::steady_clock::now() - start);
    response->set_image_ref(id);
  });
}

}  // namespace crisp::cri
