// ImageStatus: the image or nil (not an error) when absent; verbose adds info["info"] as JSON.
#include <nlohmann/json.hpp>

#include "cri/image_service/image_convert.h"
#include "cri/image_service/image_service.h"
#include "cri/rpc.h"
#include "image/image_service.h"
#include "runtime/base/error.h"

namespace crisp::cri {

grpc::Status ImageServiceImpl::ImageStatus(grpc::ServerContext*, const ::runtime::v1::ImageStatusRequest* request,
                                           ::runtime::v1::ImageStatusResponse* response) {
  return rpc("ImageStatus", *request, [&] {
    if (!ctx_.images) throw Error(ErrorKind::kUnavailable, "the image service is not running");
    auto record = ctx_.images->find(request->image().image());
    if (!record) return;
    to_cri_image(*record, response->mutable_image());
    if (request->verbose()) {
      nlohmann::json info;
      info["id"] = record->id;
      info["chainID"] = record->chain_id;
      info["manifestDigest"] = record->manifest_digest;
      info["mediaType"] = record->media_type;
      info["layers"] = record->layer_digests;
      info["diffIDs"] = record->diff_ids;
      info["pinned"] = record->pinned;
      try {
        info["imageSpec"] = nlohmann::json::parse(record->config_json);
      } catch (const nlohmann::json::exception&) {
        info["imageSpec"] = nullptr;
      }
      (*response->mutable_info())["info"] = info.dump();
    }
  });
}

}  // namespace crisp::cri
