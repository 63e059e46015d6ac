#pragma once
// crisp.admin.v1.Admin: crisp's own API next to the CRI on crispd's socket (image archives, pins,
// info, garbage collection, config dump). Each handler is a thin translation into the libraries'
// plain calls wrapped in cri::rpc() (logging, timing, error mapping). The `crisp` CLI is its client.
#include "cri/context.h"
#include "cri/proto/admin.grpc.pb.h"
#include "cri/proto/admin.pb.h"

namespace crisp::cri {

class AdminServiceImpl final : public ::crisp::admin::v1::Admin::Service {
 public:
  explicit AdminServiceImpl(Context& ctx) : ctx_(ctx) {}

  grpc::Status ImportImages(grpc::ServerContext* context, grpc::ServerReader<::crisp::admin::v1::ImportChunk>* reader,
                            ::crisp::admin::v1::ImportImagesResponse* response) override;
  grpc::Status ExportImages(grpc::ServerContext* context, const ::crisp::admin::v1::ExportImagesRequest* request,
                            grpc::ServerWriter<::crisp::admin::v1::Chunk>* writer) override;
  grpc::Status PinImage(grpc::ServerContext* context, const ::crisp::admin::v1::PinImageRequest* request,
                        ::crisp::admin::v1::PinImageResponse* response) override;
  grpc::Status Info(grpc::ServerContext* context, const ::crisp::admin::v1::InfoRequest* request,
                    ::crisp::admin::v1::InfoResponse* response) override;
  grpc::Status GarbageCollect(grpc::ServerContext* context, const ::crisp::admin::v1::GarbageCollectRequest* request,
                              ::crisp::admin::v1::GarbageCollectResponse* response) override;
  grpc::Status ConfigDump(grpc::ServerContext* context, const ::crisp::admin::v1::ConfigDumpRequest* request,
                          ::crisp::admin::v1::ConfigDumpResponse* response) override;

 private:
  Context& ctx_;  // not owned; outlives the service
};

}  // namespace crisp::cri
