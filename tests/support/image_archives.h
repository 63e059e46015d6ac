#pragma once
// Image archives for tests, built in memory from oci_builder images: what `docker save` and
// `ctr images export` / `skopeo copy oci-archive:` write.
//
//   Image busybox = busybox_image(ManifestFormat::kDockerSchema2);
//   std::string tar = docker_save_archive({{busybox, {"busybox:1"}}});           // legacy layout
//   std::string tar = docker_save_archive({{busybox, {"busybox:1"}}}, DockerLayout::kBlobs);  // Docker 25+
//   std::string tar = oci_layout_archive({{busybox.manifest, {"docker.io/library/busybox:1"}}},
//                                        oci_layout_blobs(busybox));
//   std::string gz = compress(tar, Compression::kGzip);
//   std::vector<TarEntry> e = archive_entries(tar); e.push_back(file("../evil", "x")); build_tar(e);
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "tests/support/oci_builder.h"

namespace crisp::test {

enum class DockerLayout {
  kLegacy,  // <layer id>/layer.tar (uncompressed), <config hex>.json, repositories (Docker < 25)
  kBlobs,   // blobs/sha256/<hex> + oci-layout + index.json + manifest.json (Docker 25+)
};

struct SavedImage {
  Image image;                      // layers are stored uncompressed, as docker save does
  std::vector<std::string> tags;    // RepoTags as docker writes them ("busybox:1")
};

// A docker save tar of the images.
std::string docker_save_archive(const std::vector<SavedImage>& images, DockerLayout layout = DockerLayout::kLegacy);

// Every blob of an image or index (manifests, configs, layers), digest -> bytes.
std::map<std::string, std::string> oci_layout_blobs(const Image& image);
std::map<std::string, std::string> oci_layout_blobs(const Index& index);

struct LayoutEntry {
  Blob top;                          // the manifest or index index.json lists
  std::vector<std::string> names;    // io.containerd.image.name annotations (one index.json entry each)
  std::string ref_name;              // org.opencontainers.image.ref.name for entries without names ("" = none)
};

// An OCI image layout tar: oci-layout, index.json, blobs/sha256/<hex>.
std::string oci_layout_archive(const std::vector<LayoutEntry>& entries, const std::map<std::string, std::string>& blobs);

// The entries of a tar (for tampering: add, drop or change one, then build_tar()).
std::vector<TarEntry> archive_entries(const std::string& tar);

}  // namespace crisp::test
