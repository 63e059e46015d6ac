#pragma once
// runtime.v1.ImageService: one .cc file per RPC family in this directory; each handler is a thin
// translation from the CRI message into the libraries' plain structs, wrapped in cri::rpc()
// (logging, timing, error mapping). RPCs not implemented yet live in unimplemented.cc.
#include "cri/context.h"
#include "cri/proto/cri_api.h"

namespace crisp::cri {

class ImageServiceImpl final : public ::runtime::v1::ImageService::Service {
 public:
  explicit ImageServiceImpl(Context& ctx) : ctx_(ctx) {}

  grpc::Status ListImages(grpc::ServerContext* context, const ::runtime::v1::ListImagesRequest* request,
      ::runtime::v1::ListImagesResponse* response) override;
  grpc::Status StreamImages(grpc::ServerContext* context, const ::runtime::v1::StreamImagesRequest* request,
      grpc::ServerWriter<::runtime::v1::StreamImagesResponse>* writer) override;
  grpc::Status ImageStatus(grpc::ServerContext* context, const ::runtime::v1::ImageStatusRequest* request,
      ::runtime::v1::ImageStatusResponse* response) override;
  grpc::Status PullImage(grpc::ServerContext* context, const ::runtime::v1::PullImageRequest* request,
      ::runtime::v1::PullImageResponse* response) override;
  grpc::Status RemoveImage(grpc::ServerContext* context, const ::runtime::v1::RemoveImageRequest* request,
      ::runtime::v1::RemoveImageResponse* response) override;
  grpc::Status ImageFsInfo(grpc::ServerContext* context, const ::runtime::v1::ImageFsInfoRequest* request,
      ::runtime::v1::ImageFsInfoResponse* response) override;

 private:
  Context& ctx_;  // not owned; outlives the service
};

}  // namespace crisp::cri
