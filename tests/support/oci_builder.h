#pragma once
// Build OCI / Docker images in memory for tests: layers, config, manifests, indexes.
//
// Everything is deterministic (fixed mtimes, JSON with sorted keys, gzip without a timestamp), so
// the same inputs always give the same digests.
//
//   using namespace crisp::test;
//   Layer base = make_layer({dir("bin"), file("bin/hello", "hi\n", 0755),
//                            symlink("bin/link", "hello"), hardlink("bin/hard", "bin/hello"),
//                            whiteout("etc/old"), opaque_whiteout("var/cache"),
//                            file("../escape", "x")},  // raw names are written verbatim
//                           Compression::kGzip);
//   ImageConfig config;                  // architecture amd64, os linux by default
//   config.cmd = {{"/bin/hello"}};
//   Image image = build_image(config, {base}, ManifestFormat::kOci);
//   image.manifest.digest / image.manifest.bytes / image.manifest.media_type
//   Index index = build_index({image_amd64, image_arm64}, ManifestFormat::kOci);
//
// Entry names are written exactly as given (no "./" prefix added, no normalisation; libarchive
// appends "/" to directory names), in the order
// given; entries_from_directory() returns a sorted list. Hardlink targets are tar paths too.
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace crisp::test {

// mtime of every entry unless set otherwise (2020-01-01T00:00:00Z).
inline constexpr int64_t kFixedMtime = 1577836800;

struct TarEntry {
  enum class Type { kFile, kDir, kSymlink, kHardlink, kCharDevice, kBlockDevice, kFifo };
  Type type = Type::kFile;
  std::string name;         // tar path, verbatim ("bin/sh", "../x", "/abs", "a/.wh.b")
  std::string content;      // kFile only
  std::string link_target;  // kSymlink: symlink text; kHardlink: tar path of the target
  unsigned mode = 0644;     // permission bits (incl. setuid/setgid/sticky); type bits are added
  uint32_t uid = 0;
  uint32_t gid = 0;
  int64_t mtime = kFixedMtime;
  unsigned dev_major = 0;  // kCharDevice / kBlockDevice
  unsigned dev_minor = 0;
  std::map<std::string, std::string> xattrs;  // written as PAX SCHILY.xattr.* records
};

// Entry helpers (return a TarEntry you may adjust further).
TarEntry file(std::string name, std::string content, unsigned mode = 0644, uint32_t uid = 0,
              uint32_t gid = 0);
TarEntry dir(std::string name, unsigned mode = 0755, uint32_t uid = 0, uint32_t gid = 0);
TarEntry symlink(std::string name, std::string target);
TarEntry hardlink(std::string name, std::string target);
TarEntry char_device(std::string name, unsigned major, unsigned minor, unsigned mode = 0666);
TarEntry fifo(std::string name, unsigned mode = 0644);
// "dir/.wh.name" for path "dir/name": deletes a lower file or directory.
TarEntry whiteout(const std::string& path);
// "dir/.wh..wh..opq": hides everything lower layers have under dir.
TarEntry opaque_whiteout(const std::string& dir_path);

// All entries under host_dir (files, dirs, symlinks, hardlinks detected by inode, devices),
// names relative to host_dir with `prefix` prepended, sorted by name, mtime = kFixedMtime, owner
// and mode as on disk.
std::vector<TarEntry> entries_from_directory(const std::string& host_dir,
                                             const std::string& prefix = "");

enum class Compression { kGzip, kZstd, kNone };

// "sha256:<hex>" of bytes.
std::string sha256_digest(const std::string& bytes);

// Uncompressed tar (PAX restricted: plain ustar unless a record needs PAX) of entries, in order.
std::string build_tar(const std::vector<TarEntry>& entries);
// bytes compressed as a whole stream (gzip without name/timestamp, zstd level 3, or a copy).
std::string compress(const std::string& bytes, Compression compression, int level = -1);
// Inverse of compress() for any of gzip, zstd or uncompressed input (auto-detected).
std::string decompress(const std::string& bytes);

struct Layer {
  std::string data;      // compressed blob as pushed
  std::string digest;    // sha256 of data
  uint64_t size = 0;     // data.size()
  std::string diff_id;   // sha256 of the uncompressed tar
  Compression compression = Compression::kGzip;
};

Layer make_layer(const std::vector<TarEntry>& entries, Compression compression = Compression::kGzip,
                 int level = -1);
Layer make_layer_from_tar(const std::string& tar, Compression compression = Compression::kGzip,
                          int level = -1);

struct Blob {
  std::string bytes;
  std::string digest;
  std::string media_type;
  uint64_t size() const { return bytes.size(); }
};

struct Platform {
  std::string architecture = "amd64";
  std::string os = "linux";
  std::string variant;  // "v8" for arm64, empty = omitted
};

struct ImageConfig {
  Platform platform;
  std::string user;                                    // "" = omitted
  std::vector<std::string> env;                        // "K=V"
  std::optional<std::vector<std::string>> entrypoint;  // nullopt = omitted
  std::optional<std::vector<std::string>> cmd;
  std::string working_dir;
  std::string stop_signal;
  std::map<std::string, std::string> labels;
  std::vector<std::string> exposed_ports;  // "8080/tcp"
  std::vector<std::string> volumes;        // "/data"
  std::string created = "2020-01-01T00:00:00Z";
};

enum class ManifestFormat { kDockerSchema2, kOci };

namespace media_type {
inline constexpr const char* kDockerManifest = "application/vnd.docker.distribution.manifest.v2+json";
inline constexpr const char* kDockerManifestList =
    "application/vnd.docker.distribution.manifest.list.v2+json";
inline constexpr const char* kDockerConfig = "application/vnd.docker.container.image.v1+json";
inline constexpr const char* kDockerLayerGzip = "application/vnd.docker.image.rootfs.diff.tar.gzip";
inline constexpr const char* kOciManifest = "application/vnd.oci.image.manifest.v1+json";
inline constexpr const char* kOciIndex = "application/vnd.oci.image.index.v1+json";
inline constexpr const char* kOciConfig = "application/vnd.oci.image.config.v1+json";
inline constexpr const char* kOciLayerTar = "application/vnd.oci.image.layer.v1.tar";
inline constexpr const char* kOciLayerGzip = "application/vnd.oci.image.layer.v1.tar+gzip";
inline constexpr const char* kOciLayerZstd = "application/vnd.oci.image.layer.v1.tar+zstd";
}  // namespace media_type

// Media type of a layer in a manifest of the given format. Docker schema2 has no zstd/plain tar
// type: throws crisp::Error kInvalidArgument.
std::string layer_media_type(Compression compression, ManifestFormat format);

struct Image {
  ManifestFormat format = ManifestFormat::kOci;
  Platform platform;
  std::vector<Layer> layers;
  Blob config;    // image config JSON
  Blob manifest;  // manifest JSON
};

// Config JSON (architecture, os, config{...}, rootfs.diff_ids, history one entry per layer).
std::string build_config_json(const ImageConfig& config, const std::vector<Layer>& layers);
// Manifest JSON for a config blob + layers (schemaVersion 2, mediaType set).
std::string build_manifest_json(ManifestFormat format, const Blob& config,
                                const std::vector<Layer>& layers);
Image build_image(const ImageConfig& config, std::vector<Layer> layers, ManifestFormat format);

struct Index {
  ManifestFormat format = ManifestFormat::kOci;  // OCI index or Docker manifest list
  std::vector<Image> images;                     // children, pushed before the index
  Blob manifest;
};
// Each child is listed with its manifest's media type/digest/size and its platform.
Index build_index(std::vector<Image> images, ManifestFormat format);

// Reads a whole uncompressed or compressed tar back into entries (content for files), for
// checking what a layer holds (gzip/zstd/plain auto-detected). Directory names come back without
// the trailing "/" libarchive writes.
std::vector<TarEntry> read_tar(const std::string& bytes);

}  // namespace crisp::test
