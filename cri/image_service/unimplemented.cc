// ImageService RPCs crisp does not implement yet: each answers UNIMPLEMENTED naming itself.
// When an RPC is implemented, move it out of this file into its family's file.
#include "cri/image_service/image_service.h"
#include "cri/rpc.h"

namespace crisp::cri {

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-parameter"

grpc::Status ImageServiceImpl::ListImages(grpc::ServerContext* context, const ::runtime::v1::ListImagesRequest* request,
       ::runtime::v1::ListImagesResponse* response) {
  return unimplemented("ListImages");
}

grpc::Status ImageServiceImpl::StreamImages(grpc::ServerContext* context, const ::runtime::v1::StreamImagesRequest* request,
       grpc::ServerWriter<::runtime::v1::StreamImagesResponse>* writer) {
  return unimplemented("StreamImages");
}

grpc::Status ImageServiceImpl::ImageStatus(grpc::ServerContext* context, const ::runtime::v1::ImageStatusRequest* request,
       ::runtime::v1::ImageStatusResponse* response) {
  return unimplemented("ImageStatus");
}

grpc::Status ImageServiceImpl::PullImage(grpc::ServerContext* context, const ::runtime::v1::PullImageRequest* request,
       ::runtime::v1::PullImageResponse* response) {
  return unimplemented("PullImage");
}

grpc::Status ImageServiceImpl::RemoveImage(grpc::ServerContext* context, const ::runtime::v1::RemoveImageRequest* request,
       ::runtime::v1::RemoveImageResponse* response) {
  return unimplemented("RemoveImage");
}

grpc::Status ImageServiceImpl::ImageFsInfo(grpc::ServerContext* context, const ::runtime::v1::ImageFsInfoRequest* request,
       ::runtime::v1::ImageFsInfoResponse* response) {
  return unimplemented("ImageFsInfo");
}

#pragma GCC diagnostic pop

}  // namespace crisp::cri
