// ImageFsInfo: bytes and inodes of the image filesystem (blobs + layer snapshots) and of the
// containers' writable layers.
#include "cri/image_service/image_service.h"
#include "cri/rpc.h"
#include "image/image_service.h"
#include "runtime/base/error.h"

namespace crisp::cri {

namespace {

void fill(const crisp::image::FsUsage& usage, ::runtime::v1::FilesystemUsage* out) {
  out->set_timestamp(usage.timestamp_ns);
  out->mutable_fs_id()->set_mountpoint(usage.mountpoint);
  out->mutable_used_bytes()->set_value(usage.used_bytes);
  out->mutable_inodes_used()->set_value(usage.inodes_used);
}

}  // namespace

grpc::Status ImageServiceImpl::ImageFsInfo(grpc::ServerContext*, const ::runtime::v1::ImageFsInfoRequest*,
                                           ::runtime::v1::ImageFsInfoResponse* response) {
  return rpc("ImageFsInfo", [&] {
    if (!ctx_.images) throw Error(ErrorKind::kUnavailable, "the image service is not running");
    fill(ctx_.images->image_fs_usage(), response->add_image_filesystems());
    fill(ctx_.images->container_fs_usage(), response->add_container_filesystems());
  });
}

}  // namespace crisp::cri
