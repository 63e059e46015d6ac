// write_archive: an OCI image layout with a docker manifest.json, streamed as a tar.
#include <archive.h>
#include <archive_entry.h>

#include <nlohmann/json.hpp>

#include <exception>
#include <memory>
#include <set>
#include <vector>

#include "image/archive/image_archive.h"
#include "image/digest.h"
#include "image/reference.h"
#include "runtime/base/error.h"

namespace crisp::image::archive {

namespace {

using json = nlohmann::json;

constexpr size_t kCopyBufferBytes = 1 << 20;

struct ArchiveWriteDeleter {
  void operator()(struct archive* a) const { archive_write_free(a); }
};
struct EntryDeleter {
  void operator()(struct archive_entry* e) const { archive_entry_free(e); }
};

struct Sink {
  const ByteWriter* writer = nullptr;
  std::exception_ptr error;  // thrown by the caller's writer; re-thrown instead of libarchive's message
};

la_ssize_t write_sink(struct archive* a, void* opaque, const void* data, size_t n) {
  auto* sink = static_cast<Sink*>(opaque);
  try {
    (*sink->writer)(static_cast<const char*>(data), n);
    return static_cast<la_ssize_t>(n);
  } catch (...) {
    sink->error = std::current_exception();
    archive_set_error(a, EIO, "writing the archive failed");
    return -1;
  }
}

class Writer {
 public:
  explicit Writer(const ByteWriter& out) : archive_(archive_write_new()) {
    sink_.writer = &out;
    if (!archive_) throw Error(ErrorKind::kResourceExhausted, "image archive: out of memory");
    archive_write_set_format_pax_restricted(archive_.get());
    archive_write_set_bytes_per_block(archive_.get(), 64 * 1024);
    if (archive_write_open(archive_.get(), &sink_, nullptr, write_sink, nullptr) != ARCHIVE_OK) fail("open");
  }

  void directory(const std::string& path) {
    auto e = entry(path, AE_IFDIR, 0755, 0);
    if (archive_write_header(archive_.get(), e.get()) != ARCHIVE_OK) fail(path);
  }

  void file(const std::string& path, const std::string& bytes) {
    auto e = entry(path, AE_IFREG, 0644, bytes.size());
    if (archive_write_header(archive_.get(), e.get()) != ARCHIVE_OK) fail(path);
    if (!bytes.empty() && archive_write_data(archive_.get(), bytes.data(), bytes.size()) < 0) fail(path);
  }

  void stream(const std::string& path, uint64_t size, const ByteReader& reader) {
    auto e = entry(path, AE_IFREG, 0444, size);
    if (archive_write_header(archive_.get(), e.get()) != ARCHIVE_OK) fail(path);
    std::vector<char> buffer(kCopyBufferBytes);
    uint64_t copied = 0;
    for (;;) {
      size_t n = reader(buffer.data(), buffer.size());
      if (n == 0) break;
      if (copied + n > size) break;
      if (archive_write_data(archive_.get(), buffer.data(), n) < 0) fail(path);
      copied += n;
    }
    if (copied != size) {
      throw Error(ErrorKind::kInternal, "image archive: blob " + path + " changed size while it was exported");
    }
  }

  void close() {
    if (archive_write_close(archive_.get()) != ARCHIVE_OK) fail("close");
    if (sink_.error) std::rethrow_exception(sink_.error);
  }

 private:
  std::unique_ptr<struct archive_entry, EntryDeleter> entry(const std::string& path, mode_t type, mode_t mode,
                                                            uint64_t size) {
    std::unique_ptr<struct archive_entry, EntryDeleter> e(archive_entry_new());
    archive_entry_set_pathname(e.get(), path.c_str());
    archive_entry_set_filetype(e.get(), type);
    archive_entry_set_perm(e.get(), mode);
    archive_entry_set_size(e.get(), static_cast<la_int64_t>(size));
    archive_entry_set_mtime(e.get(), 0, 0);
    return e;
  }

  [[noreturn]] void fail(const std::string& what) {
    if (sink_.error) std::rethrow_exception(sink_.error);
    const char* message = archive_error_string(archive_.get());
    throw Error(ErrorKind::kInternal, "image archive: writing " + what + ": " + (message ? message : "failed"));
  }

  Sink sink_;
  std::unique_ptr<struct archive, ArchiveWriteDeleter> archive_;
};

std::string blob_path(const std::string& digest) { return "blobs/sha256/" + digest_hex(digest); }

}  // namespace

void write_archive(const std::vector<ExportImage>& images, BlobSource& blobs, const ByteWriter& out) {
  json index = {{"schemaVersion", 2}, {"mediaType", media_types::kOciIndex}, {"manifests", json::array()}};
  json docker = json::array();
  for (const auto& image : images) {
    auto descriptor = [&] {
      return json{{"mediaType", image.top.media_type}, {"digest", image.top.digest}, {"size", image.top.size}};
    };
    if (image.names.empty()) index["manifests"].push_back(descriptor());
    json repo_tags = json::array();
    for (const auto& name : image.names) {
      json d = descriptor();
      Reference ref = parse_reference(name);
      d["annotations"] = {{annotations::kContainerdImageName, name}, {annotations::kOciRefName, ref.tag}};
      index["manifests"].push_back(std::move(d));
      repo_tags.push_back(familiar_name(name));
    }
    json layers = json::array();
    for (const auto& layer : image.layer_digests) layers.push_back(blob_path(layer));
    docker.push_back({{"Config", blob_path(image.config_digest)}, {"RepoTags", repo_tags}, {"Layers", layers}});
  }

  Writer writer(out);
  writer.file("oci-layout", R"({"imageLayoutVersion":"1.0.0"})");
  writer.directory("blobs");
  writer.directory("blobs/sha256");
  std::set<std::string> written;
  for (const auto& image : images) {
    for (const auto& digest : image.blobs) {
      if (!written.insert(digest).second) continue;
      auto size = blobs.size(digest);
      if (!size) throw Error(ErrorKind::kNotFound, "image archive: blob " + digest + " is not in the store");
      writer.stream(blob_path(digest), *size, blobs.open(digest));
    }
  }
  writer.file("index.json", index.dump());
  writer.file("manifest.json", docker.dump());
  writer.close();
}

}  // namespace crisp::image::archive
