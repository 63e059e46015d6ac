// Admin Info, GarbageCollect and ConfigDump: what the daemon runs with and what it holds.
#include "cri/admin/admin_service.h"
#include "cri/rpc.h"
#include "image/image_service.h"
#include "network/network.h"
#include "runtime/base/error.h"
#include "runtime/runtime.h"

namespace crisp::cri {

namespace admin = ::crisp::admin::v1;

grpc::Status AdminServiceImpl::Info(grpc::ServerContext*, const admin::InfoRequest*, admin::InfoResponse* response) {
  return rpc("Info", [&] {
    const Config config = effective_config(ctx_);
    response->set_version(crisp_version());
    response->set_socket(config.socket);
    response->set_root(config.root);
    response->set_state(config.state);
    response->set_cgroup_driver(ctx_.cgroup_driver);
    response->set_cgroup_version(ctx_.cgroup_version);
    response->set_network_mode(config.network_mode);
    if (ctx_.network) response->set_network(ctx_.network->mode());
    for (const auto& source : config.sources) response->add_config_sources(source);
    if (ctx_.runtime) {
      for (const auto& sandbox : ctx_.runtime->list_sandboxes()) {
        response->set_pods(response->pods() + 1);
        if (sandbox.state == crisp::runtime::SandboxState::kReady) response->set_pods_ready(response->pods_ready() + 1);
      }
      for (const auto& container : ctx_.runtime->list_containers()) {
        response->set_containers(response->containers() + 1);
        if (container.state == crisp::runtime::ContainerState::kRunning) {
          response->set_containers_running(response->containers_running() + 1);
        }
      }
    }
    if (ctx_.images) {
      for (const auto& image : ctx_.images->list()) {
        response->set_images(response->images() + 1);
        if (image.pinned) response->set_images_pinned(response->images_pinned() + 1);
      }
      crisp::image::FsUsage image_fs = ctx_.images->image_fs_usage();
      crisp::image::FsUsage container_fs = ctx_.images->container_fs_usage();
      response->set_image_store_bytes(image_fs.used_bytes);
      response->set_image_store_inodes(image_fs.inodes_used);
      response->set_container_store_bytes(container_fs.used_bytes);
      response->set_container_store_inodes(container_fs.inodes_used);
    }
  });
}

grpc::Status AdminServiceImpl::GarbageCollect(grpc::ServerContext*, const admin::GarbageCollectRequest*,
                                              admin::GarbageCollectResponse* response) {
  return rpc("GarbageCollect", [&] {
    if (!ctx_.images) throw Error(ErrorKind::kUnavailable, "the image service is not running");
    crisp::image::GcResult removed = ctx_.images->collect_garbage();
    response->set_blobs_removed(removed.blobs_removed);
    response->set_snapshots_removed(removed.snapshots_removed);
    response->set_bytes_removed(removed.bytes_removed);
  });
}

grpc::Status AdminServiceImpl::ConfigDump(grpc::ServerContext*, const admin::ConfigDumpRequest*,
                                          admin::ConfigDumpResponse* response) {
  return rpc("ConfigDump", [&] { response->set_toml(config_to_toml(effective_config(ctx_))); });
}

}  // namespace crisp::cri
