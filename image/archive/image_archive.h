#pragma once
// Image archives: the tar files `docker save` and `ctr images export` write, read and written as
// streams. Internal to image/ (ImageService::import_images / export_images use it); no disk access
// of its own: blobs go to a BlobSink while an archive is read and come from a BlobSource when
// one is planned or written, so every piece can be tested in memory.
//
// Two layouts are read (plain or compressed tar, libarchive detects the filter):
//   docker save    manifest.json [{Config, RepoTags, Layers}], layers as uncompressed tars
//                  (<id>/layer.tar, or blobs/sha256/<hex> as Docker 25+ writes)
//   OCI layout     oci-layout, index.json, blobs/sha256/<hex>; image names from the annotations
//                  io.containerd.image.name or org.opencontainers.image.ref.name
// and one is written: an OCI image layout that also carries a docker manifest.json, so both
// `docker load` and OCI tools read it.
//
// Every problem with an archive's content (a path leaving the archive, a missing blob, a digest
// or size mismatch, bad JSON, absurd sizes) is crisp::Error kInvalidArgument naming the entry.
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "image/manifest.h"

namespace crisp::image::archive {

// Fills buf with up to cap bytes; 0 at the end of the stream. May throw.
using ByteReader = std::function<size_t(char* buf, size_t cap)>;
// Takes n bytes of output. May throw (e.g. the client went away).
using ByteWriter = std::function<void(const char* data, size_t n)>;

namespace annotations {
inline constexpr const char* kContainerdImageName = "io.containerd.image.name";
inline constexpr const char* kOciRefName = "org.opencontainers.image.ref.name";
}  // namespace annotations

struct ArchiveLimits {
  uint64_t max_metadata_bytes = uint64_t{4} << 20;   // one JSON document (manifest.json, index.json, configs)
  uint64_t max_metadata_total = uint64_t{64} << 20;  // all metadata files kept in memory
  uint64_t max_entry_bytes = uint64_t{64} << 30;     // one blob
  uint64_t max_entries = 1'000'000;                  // entries in the archive
};

// An entry's path made canonical: "./a//b/" -> "a/b". kInvalidArgument for an empty or absolute
// name, a ".." component or a NUL byte.
std::string clean_entry_path(std::string_view name);

// Where the files of an archive go while it is read.
class BlobSink {
 public:
  virtual ~BlobSink() = default;
  // An entry named blobs/sha256/<hex>: store it as `digest` after checking size and digest.
  virtual void put(const std::string& digest, uint64_t size, const ByteReader& data) = 0;
  // A large entry whose name does not tell its digest (docker save's <id>/layer.tar): store it and
  // return its digest.
  virtual std::string put_unnamed(uint64_t size, const ByteReader& data) = 0;
};

// What an archive held, by path.
struct ArchiveContents {
  std::map<std::string, std::string> files;       // small metadata files (manifest.json, index.json, <id>.json, ...)
  std::map<std::string, std::string> blobs;       // path -> digest of every entry given to the sink
  std::map<std::string, std::string> links;       // symlink / hardlink path -> target path (clean)

  // Follows links (a few levels); the path itself when it is no link.
  std::string resolve(const std::string& path) const;
  // The digest stored for path, nullopt when the archive had no such blob.
  std::optional<std::string> digest_of(const std::string& path) const;
  // The metadata file at path, nullptr when absent.
  const std::string* file(const std::string& path) const;
};

// Reads a tar stream (plain, gzip, zstd, xz...): entries below blobs/ and large or layer.tar files
// go to the sink, small files stay in memory. Directories are skipped, links are recorded.
ArchiveContents read_archive(const ByteReader& source, BlobSink& sink, const ArchiveLimits& limits = {});

// Read access to stored blobs (the content store, or a map in tests).
class BlobSource {
 public:
  virtual ~BlobSource() = default;
  virtual std::optional<uint64_t> size(const std::string& digest) = 0;
  // A reader of the whole blob; kNotFound when absent.
  virtual ByteReader open(const std::string& digest) = 0;

  // The whole blob when it exists and is at most max_bytes long (kInvalidArgument when longer).
  std::optional<std::string> read(const std::string& digest, uint64_t max_bytes);
  // Up to n bytes from the start.
  std::string head(const std::string& digest, size_t n);
};

struct PlanOptions {
  Platform platform = host_platform();  // picked from indexes
  bool all_platforms = false;           // keep every platform's blobs (the node's is still the one used)
  uint64_t max_manifest_bytes = uint64_t{4} << 20;
  uint64_t max_config_bytes = uint64_t{4} << 20;
};

// One image an archive holds, ready to be stored.
struct PlannedImage {
  std::string id;                          // config digest
  std::vector<std::string> repo_tags;      // normalised: "docker.io/library/busybox:1"
  std::vector<std::string> repo_digests;   // "docker.io/library/busybox@sha256:<index or manifest>"
  std::string manifest_digest;             // the node's platform manifest
  std::string manifest_bytes;
  std::string media_type;                  // of that manifest
  Manifest manifest;
  std::string config_bytes;
  ParsedConfig config;
  std::vector<std::string> blobs;          // every blob the image keeps (indexes, manifests, config, layers)
  std::map<std::string, std::string> new_blobs;  // blobs to add to the store (docker save's synthesised manifest, config)
};

// The images of an archive that read_archive() stored: every descriptor resolved and checked
// against the stored blobs (presence, size, JSON), the node's platform chosen from indexes.
// Images with the same id are merged. kInvalidArgument for a broken archive; kNotFound when it
// holds no image for the platform.
std::vector<PlannedImage> plan_import(const ArchiveContents& contents, BlobSource& blobs,
                                      const PlanOptions& options = {});

// "busybox:1" -> "docker.io/library/busybox:1" (kInvalidArgument naming the tag when malformed).
std::string normalize_tag(const std::string& tag);
// The image name of an index.json entry: io.containerd.image.name, else
// org.opencontainers.image.ref.name when it is a full reference (a bare tag like "latest" names
// no repository and is ignored). "" when none.
std::string image_name_from_annotations(const std::map<std::string, std::string>& annotations);
// How docker shows a name: "docker.io/library/busybox:1" -> "busybox:1", "docker.io/a/b:1" -> "a/b:1".
std::string familiar_name(const std::string& name);

// One image to write into an archive.
struct ExportImage {
  std::vector<std::string> names;  // full tag references, may be empty
  Descriptor top;                  // the index or manifest index.json lists
  std::string config_digest;       // of the platform manifest (docker manifest.json)
  std::vector<std::string> layer_digests;
  std::vector<std::string> blobs;  // every blob to write (top, children, configs, layers)
};

// Writes an OCI image layout (oci-layout, index.json, blobs/sha256/<hex>) plus a docker
// manifest.json as an uncompressed tar.
void write_archive(const std::vector<ExportImage>& images, BlobSource& blobs, const ByteWriter& out);

}  // namespace crisp::image::archive
