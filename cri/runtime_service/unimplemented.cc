// RuntimeService RPCs crisp does not implement yet: each answers UNIMPLEMENTED naming itself.
// When an RPC is implemented, move it out of this file into its family's file.
#include "cri/runtime_service/runtime_service.h"
#include "cri/rpc.h"

namespace crisp::cri {

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-parameter"

grpc::Status RuntimeServiceImpl::CheckpointContainer(grpc::ServerContext* context, const ::runtime::v1::CheckpointContainerRequest* request,
       ::runtime::v1::CheckpointContainerResponse* response) {
  return unimplemented("CheckpointContainer");
}

#pragma GCC diagnostic pop

}  // namespace crisp::cri
