// Admin image RPCs: ImportImages (a client stream of archive chunks), ExportImages (a server
// stream of archive chunks) and PinImage.
#include <algorithm>
#include <cstring>

#include "cri/admin/admin_service.h"
#include "cri/rpc.h"
#include "image/image_service.h"
#include "runtime/base/error.h"

namespace crisp::cri {

namespace {

namespace admin = ::crisp::admin::v1;

constexpr size_t kExportChunkBytes = 1 << 20;

crisp::image::ImageService& images_of(Context& ctx) {
  if (!ctx.images) throw Error(ErrorKind::kUnavailable, "the image service is not running");
  return *ctx.images;
}

}  // namespace

grpc::Status AdminServiceImpl::ImportImages(grpc::ServerContext* context, grpc::ServerReader<admin::ImportChunk>* reader,
                                            admin::ImportImagesResponse* response) {
  return rpc("ImportImages", [&] {
    auto& images = images_of(ctx_);
    admin::ImportChunk chunk;
    bool more = reader->Read(&chunk);
    crisp::image::ImportOptions options;
    options.all_platforms = chunk.all_platforms();
    options.pin = !chunk.no_pin();
    size_t offset = 0;
    auto read = [&](char* buf, size_t cap) -> size_t {
      while (more && offset >= chunk.data().size()) {
        if (context->IsCancelled()) throw Error(ErrorKind::kUnavailable, "import cancelled by the client");
        more = reader->Read(&chunk);
        offset = 0;
      }
      if (!more) return 0;
      size_t n = std::min(cap, chunk.data().size() - offset);
      std::memcpy(buf, chunk.data().data() + offset, n);
      offset += n;
      return n;
    };
    for (const auto& imported : images.import_images(read, options)) {
      auto* out = response->add_images();
      out->set_id(imported.id);
      for (const auto& t : imported.repo_tags) out->add_repo_tags(t);
      for (const auto& d : imported.repo_digests) out->add_repo_digests(d);
    }
  });
}

grpc::Status AdminServiceImpl::ExportImages(grpc::ServerContext* context, const admin::ExportImagesRequest* request,
                                            grpc::ServerWriter<admin::Chunk>* writer) {
  return rpc("ExportImages", *request, [&] {
    auto& images = images_of(ctx_);
    std::vector<std::string> refs(request->refs().begin(), request->refs().end());
    admin::Chunk chunk;
    auto flush = [&] {
      if (chunk.data().empty()) return;
      if (context->IsCancelled() || !writer->Write(chunk)) {
        throw Error(ErrorKind::kUnavailable, "export: the client went away");
      }
      chunk.mutable_data()->clear();
    };
    images.export_images(refs, [&](const char* data, size_t n) {
      chunk.mutable_data()->append(data, n);
      if (chunk.data().size() >= kExportChunkBytes) flush();
    });
    flush();
  });
}

grpc::Status AdminServiceImpl::PinImage(grpc::ServerContext*, const admin::PinImageRequest* request,
                                        admin::PinImageResponse* response) {
  return rpc("PinImage", *request, [&] {
    auto& images = images_of(ctx_);
    if (request->ref().empty()) throw Error(ErrorKind::kInvalidArgument, "PinImage: ref is empty");
    auto record = images.find(request->ref());
    if (!record) throw Error(ErrorKind::kNotFound, "image \"" + request->ref() + "\" not found");
    images.set_pinned(record->id, request->pinned());
    response->set_id(record->id);
  });
}

}  // namespace crisp::cri
