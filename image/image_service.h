#pragma once
// crisp's image service: pulls images from registries into the content store and the overlayfs
// snapshotter, keeps the image records, and gives the runtime container root filesystems.
//
//   ImageService images({.root = "/var/lib/crisp", .registry_config_dir = "/etc/crisp/certs.d"});
//   std::string id = images.pull({.ref = "busybox"});          // "sha256:<config digest>"
//   std::optional<ImageRecord> r = images.find("busybox");      // by id, id prefix, tag or digest ref
//   RootfsMount m = images.prepare_rootfs(container_id, r->id);  // mount it as the container's rootfs
//   images.remove_rootfs(container_id);                          // when the container is removed
//   images.remove("busybox");                                    // untag / remove + garbage collect
//
// On disk below root: content/ (blobs by digest, see content_store.h), snapshots/ (see
// image/snapshot/snapshotter.h), images/<config hex>.json (one record per image, written
// atomically). Thread-safe.
#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "image/manifest.h"
#include "image/registry_auth.h"

namespace crisp::snapshot {
class Snapshotter;
}

namespace crisp::image {

class ContentStore;
class RegistryClient;
class RegistrySession;

struct ImageServiceOptions {
  std::string root = "/var/lib/crisp";
  std::string registry_config_dir = "/etc/crisp/certs.d";
  int max_concurrent_downloads = 3;
  int pull_progress_timeout_seconds = 60;
  uint64_t max_manifest_bytes = uint64_t{4} << 20;  // manifests and indexes
  uint64_t max_config_bytes = uint64_t{4} << 20;    // image configs
  Platform platform = host_platform();               // what to pick from an index
  bool sync_layers = true;                           // syncfs before a chain is committed
};

struct PullRequest {
  std::string ref;                                  // "busybox", "registry.k8s.io/pause:3.9", "x@sha256:..."
  PullAuth auth;                                    // PullImageRequest.auth
  std::map<std::string, std::string> annotations;   // ImageSpec.annotations, kept in the record
  std::function<bool()> cancelled;                  // optional: true aborts the pull (client gone)
  std::atomic<uint64_t>* bytes_downloaded = nullptr;  // optional: grows by the layer bytes this pull
                                                    // fetches from the registry (shared downloads
                                                    // count for the pull that makes them)
};

struct ImageRecord {
  std::string id;                         // "sha256:<config digest hex>"
  std::vector<std::string> repo_tags;     // "docker.io/library/busybox:latest"
  std::vector<std::string> repo_digests;  // "docker.io/library/busybox@sha256:<manifest or index>"
  uint64_t size = 0;                      // config + compressed layers, bytes
  ImageConfig config;
  std::string chain_id;                   // the top layer's chainID ("" for an image without layers)
  bool pinned = false;
  std::map<std::string, std::string> annotations;
  std::string config_json;                // the config blob (verbose ImageStatus)
  int64_t uid = -1;                       // numeric user of the config ("1000" / "1000:1000"); -1: none
  std::string username;                   // non-numeric user ("app"), "" otherwise

  // Where the image came from (for GC and verbose status).
  std::string manifest_digest;            // the platform manifest
  std::vector<std::string> layer_digests; // compressed blobs, base first
  std::vector<std::string> diff_ids;      // rootfs.diff_ids, base first
  std::vector<std::string> blobs;         // every blob the image needs (index, manifest, config, layers)
  std::string media_type;                 // of the manifest
};

// Image archives (docker save / OCI image layout tars, see image/archive/image_archive.h).
struct ImportOptions {
  bool all_platforms = false;  // keep every platform's blobs (only the node's is unpacked)
  bool pin = true;             // imported images are pinned unless asked otherwise
};

struct ImportedImage {
  std::string id;
  std::vector<std::string> repo_tags;
  std::vector<std::string> repo_digests;
};

// What collect_garbage() deleted.
struct GcResult {
  size_t blobs_removed = 0;
  size_t snapshots_removed = 0;  // layer chains
  uint64_t bytes_removed = 0;    // blob bytes + the chains' disk bytes
};

// Filter for list(): empty = all; otherwise the image `ref` names (like find()).
struct ImageFilter {
  std::string ref;
};

// An overlay (or bind) mount description of a container's rootfs.
struct RootfsMount {
  std::string type;
  std::string source;
  std::vector<std::string> options;
};

struct FsUsage {
  int64_t timestamp_ns = 0;  // when measured (unix time, nanoseconds)
  std::string mountpoint;    // a directory on the filesystem measured
  uint64_t used_bytes = 0;
  uint64_t inodes_used = 0;
};

class ImageService {
 public:
  // Opens the store below options.root: removes interrupted ingests and snapshot applies, loads
  // the image records, and collects blobs and chains no image needs.
  explicit ImageService(ImageServiceOptions options);
  ~ImageService();
  ImageService(const ImageService&) = delete;
  ImageService& operator=(const ImageService&) = delete;

  // By id ("sha256:<hex>", "<hex>", or a unique hex prefix of at least 3 digits), by tag ref
  // (normalised: busybox -> docker.io/library/busybox:latest), or by digest ref (name@sha256:...).
  std::optional<ImageRecord> find(const std::string& ref) const;

  // Pulls (or re-tags a present image with one manifest request). Returns the image id.
  // Errors: kInvalidArgument (bad reference, corrupt or hostile content), kNotFound,
  // kPermissionDenied (authentication), kDeadlineExceeded (no progress), kResourceExhausted
  // (size limits), kUnavailable (registry unreachable). A failed pull leaves nothing behind.
  std::string pull(const PullRequest& request);

  std::vector<ImageRecord> list(const ImageFilter& filter = {}) const;

  // By tag ref: removes that tag (and the image when no tag is left). By id or digest ref: removes
  // the image. Then deletes blobs and chains no image or container needs. Missing: no error.
  // kFailedPrecondition for a pinned image (unpin it first).
  void remove(const std::string& ref);

  // Marks an image pinned (ImageStatus/ListImages report it; the kubelet never GCs it and
  // remove() refuses it).
  void set_pinned(const std::string& ref, bool pinned);

  // Imports the images of a docker save or OCI image-layout tar (plain or compressed) read from
  // `read` (fills buf with up to cap bytes, 0 at the end). The node's platform is unpacked like a
  // pull; tags are normalised and moved to the imported images; importing a present image adds
  // its tags. kInvalidArgument for a broken or hostile archive; a failed import leaves nothing.
  std::vector<ImportedImage> import_images(const std::function<size_t(char* buf, size_t cap)>& read,
                                           const ImportOptions& options = {});
  // Writes the images `refs` name as one OCI image-layout tar carrying a docker manifest.json
  // (`docker load` and OCI tools read it). kNotFound for an unknown ref.
  void export_images(const std::vector<std::string>& refs,
                     const std::function<void(const char* data, size_t n)>& write);

  // The writable snapshot of a container on top of the image's layers (kNotFound for an unknown
  // image, kAlreadyExists when the container has one). The layers stay until remove_rootfs.
  RootfsMount prepare_rootfs(const std::string& container_id, const std::string& image_id);
  // Deletes the container's snapshot (unmount it first). Idempotent.
  void remove_rootfs(const std::string& container_id);

  FsUsage image_fs_usage() const;
  FsUsage container_fs_usage() const;

  // Deletes blobs and chains no image, container or running pull needs.
  GcResult collect_garbage();

  snapshot::Snapshotter& snapshotter() { return *snapshots_; }
  ContentStore& content() { return *content_; }
  const ImageServiceOptions& options() const { return options_; }
  // Pulls that start later read <dir>/<host>/hosts.toml (crispd's SIGHUP); running pulls keep
  // the directory they started with. options().registry_config_dir stays the initial one.
  void set_registry_config_dir(std::string dir);

 private:
  class Lease;
  struct PullPlan;
  class ArchiveSink;

  // collect_garbage() after an operation (`after`: "a failed pull", ...); failures only logged.
  void collect_garbage_after(const char* after) noexcept;
  std::optional<ImageRecord> find_locked(const std::string& ref) const;  // records_mutex_ held
  void save_record_locked(const ImageRecord& record);                    // records_mutex_ held
  void delete_record_locked(const std::string& id);                      // records_mutex_ held
  void load_records();
  std::string pull_image(const PullRequest& request, Lease& lease);
  void pull_layers(RegistrySession& session, const PullPlan& plan);
  void pull_layer(RegistrySession& session, const PullPlan& plan, size_t index, const std::atomic<bool>& abort);
  void pull_layer_once(RegistrySession& session, const PullPlan& plan, size_t index, const std::atomic<bool>& abort,
                       bool& owner);

  ImageServiceOptions options_;
  std::unique_ptr<ContentStore> content_;
  std::unique_ptr<snapshot::Snapshotter> snapshots_;
  std::unique_ptr<RegistryClient> registry_;

  mutable std::mutex records_mutex_;           // guards records_ and the files in images/
  std::map<std::string, ImageRecord> records_;  // by id

  // Guards leases_ and serialises collect_garbage() with lease changes and prepare_rootfs, so a
  // blob or chain a pull or a container is about to use is never deleted under it.
  mutable std::mutex gc_mutex_;
  std::multiset<std::string> leases_;  // digests and chainIDs held by running pulls
};

}  // namespace crisp::image
