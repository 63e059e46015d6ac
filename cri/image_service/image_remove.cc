// RemoveImage: by id, tag or digest; a missing image is not an error.
#include "cri/image_service/image_service.h"
#include "cri/rpc.h"
#include "image/image_service.h"
#include "runtime/base/error.h"

namespace crisp::cri {

grpc::Status ImageServiceImpl::RemoveImage(grpc::ServerContext*, const ::runtime::v1::RemoveImageRequest* request,
                                           ::runtime::v1::RemoveImageResponse*) {
  return rpc("RemoveImage", *request, [&] {
    if (!ctx_.images) throw Error(ErrorKind::kUnavailable, "the image service is not running");
    const std::string& ref = request->image().image();
    if (ref.empty()) throw Error(ErrorKind::kInvalidArgument, "RemoveImage: image.image is empty");
    ctx_.images->remove(ref);
  });
}

}  // namespace crisp::cri
