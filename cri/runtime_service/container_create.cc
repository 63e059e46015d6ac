// CreateContainer: resolves the image, has the image service prepare the rootfs snapshot, and
// creates the container from the image config merged with the CRI config.
#include "cri/rpc.h"
#include "cri/runtime_service/convert.h"
#include "cri/runtime_service/runtime_service.h"
#include "runtime/runtime.h"
#include "image/image_service.h"
#include "runtime/base/error.h"

namespace crisp::cri {

grpc::Status RuntimeServiceImpl::CreateContainer(grpc::ServerContext*, const ::runtime::v1::CreateContainerRequest* request,
                                                 ::runtime::v1::CreateContainerResponse* response) {
  return rpc("CreateContainer", *request, [&] {
    auto& runtime = require_runtime(ctx_.runtime);
    if (!ctx_.images) throw Error(ErrorKind::kUnavailable, "the image service is not available");
    auto config = container_config_from_cri(request->config());
    auto image = ctx_.images->find(config.image);
    if (!image) throw Error(ErrorKind::kNotFound, "image \"" + config.image + "\" not found");
    config.image_id = image->id;
    config.image_ref = image->repo_digests.empty() ? image->id : image->repo_digests.front();
    runtime::ImageConfig image_config;
    image_config.user = image->config.user;
    image_config.env = image->config.env;
    image_config.entrypoint = image->config.entrypoint;
    image_config.cmd = image->config.cmd;
    image_config.working_dir = image->config.working_dir;
    image_config.stop_signal = image->config.stop_signal;
    std::string image_id = image->id;
    auto id = runtime.create_container(request->pod_sandbox_id(), config, image_config,
                                       [&](const std::string& container_id) {
                                         auto mount = ctx_.images->prepare_rootfs(container_id, image_id);
                                         return runtime::RootfsMount{mount.type, mount.source, mount.options};
                                       });
    response->set_container_id(id);
  });
}

}  // namespace crisp::cri
