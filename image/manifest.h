#pragma once
// OCI image spec / Docker schema2 documents: manifests, indexes (manifest lists), image configs,
// and choosing the node's platform from an index.
#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace crisp::image {

namespace media_types {
inline constexpr const char* kDockerManifest = "application/vnd.docker.distribution.manifest.v2+json";
inline constexpr const char* kDockerManifestList = "application/vnd.docker.distribution.manifest.list.v2+json";
inline constexpr const char* kOciManifest = "application/vnd.oci.image.manifest.v1+json";
inline constexpr const char* kOciIndex = "application/vnd.oci.image.index.v1+json";
// The Accept header of a manifest request: every manifest and index type crisp understands.
inline constexpr const char* kManifestAccept =
    "application/vnd.oci.image.index.v1+json, application/vnd.docker.distribution.manifest.list.v2+json, "
    "application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json";
}  // namespace media_types

struct Platform {
  std::string os;            // "linux"
  std::string architecture;  // "amd64", "arm64"
  std::string variant;       // "" / "v8" / "v7"
  std::string string() const;
};

// The platform crispd runs on (uname machine mapped to OCI names: x86_64 -> amd64, ...).
Platform host_platform();
// OCI names: x86_64/x86-64 -> amd64, aarch64 -> arm64 (variant v8 by default), armhf -> arm v7...
Platform normalize_platform(Platform platform);

struct Descriptor {
  std::string media_type;
  std::string digest;  // "sha256:<hex>"
  uint64_t size = 0;
  bool has_platform = false;
  Platform platform;  // index entries
  std::map<std::string, std::string> annotations;
};

enum class DocumentKind { kManifest, kIndex };

struct Manifest {
  std::string media_type;
  Descriptor config;
  std::vector<Descriptor> layers;
  std::map<std::string, std::string> annotations;
};

struct Index {
  std::string media_type;
  std::vector<Descriptor> manifests;
};

// What a manifest request returned: decided from the document's mediaType, else the response's
// Content-Type, else its shape ("manifests" vs "layers"). Throws kInvalidArgument for a document
// that is neither (e.g. Docker schema1, which crisp refuses with a clear message).
DocumentKind document_kind(const std::string& bytes, const std::string& content_type);
Manifest parse_manifest(const std::string& bytes);
Index parse_index(const std::string& bytes);

// The entry of `index` for `want` (os and architecture must match; the variant must match when
// both name one, arm64 without variant counts as v8). kNotFound listing the available platforms.
Descriptor choose_platform(const Index& index, const Platform& want);

// True for the layer media types crisp can unpack (tar, tar+gzip, tar+zstd; OCI and Docker).
bool is_supported_layer_type(const std::string& media_type);

// The parts of an image config crisp uses.
struct ImageConfig {
  std::string user;
  std::vector<std::string> env;
  std::vector<std::string> entrypoint;
  std::vector<std::string> cmd;
  std::string working_dir;
  std::string stop_signal;
  std::map<std::string, std::string> labels;
  std::vector<std::string> exposed_ports;  // "8080/tcp"
  std::vector<std::string> volumes;        // "/data"
};

struct ParsedConfig {
  ImageConfig config;
  Platform platform;
  std::vector<std::string> diff_ids;  // rootfs.diff_ids, base layer first
};

ParsedConfig parse_image_config(const std::string& bytes);

}  // namespace crisp::image
