// ListImages (and StreamImages): every image, or the one the filter's image ref names.
#include "cri/image_service/image_convert.h"
#include "cri/image_service/image_service.h"
#include "cri/rpc.h"
#include "image/image_service.h"
#include "runtime/base/error.h"

namespace crisp::cri {

namespace {

std::vector<crisp::image::ImageRecord> list_images(Context& ctx, const ::runtime::v1::ImageFilter& filter) {
  if (!ctx.images) throw Error(ErrorKind::kUnavailable, "the image service is not running");
  crisp::image::ImageFilter f;
  f.ref = filter.image().image();
  return ctx.images->list(f);
}

}  // namespace

grpc::Status ImageServiceImpl::ListImages(grpc::ServerContext*, const ::runtime::v1::ListImagesRequest* request,
                                          ::runtime::v1::ListImagesResponse* response) {
  return rpc("ListImages", *request, [&] {
    for (const auto& record : list_images(ctx_, request->filter())) to_cri_image(record, response->add_images());
  });
}

grpc::Status ImageServiceImpl::StreamImages(grpc::ServerContext*, const ::runtime::v1::StreamImagesRequest* request,
                                            grpc::ServerWriter<::runtime::v1::StreamImagesResponse>* writer) {
  return rpc("StreamImages", *request, [&] {
    ::runtime::v1::StreamImagesResponse batch;
    for (const auto& record : list_images(ctx_, request->filter())) {
      to_cri_image(record, batch.add_images());
      if (batch.images_size() == 100) {
        writer->Write(batch);
        batch.Clear();
      }
    }
    if (batch.images_size() > 0) writer->Write(batch);
  });
}

}  // namespace crisp::cri
