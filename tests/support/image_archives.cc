#include "tests/support/image_archives.h"

#include <nlohmann/json.hpp>

#include <set>

namespace crisp::test {

namespace {

using json = nlohmann::json;

std::string hex_of(const std::string& digest) { return digest.substr(digest.find(':') + 1); }

void add_blob(std::vector<TarEntry>& entries, std::set<std::string>& written, const std::string& bytes) {
  std::string digest = sha256_digest(bytes);
  if (!written.insert(digest).second) return;
  entries.push_back(file("blobs/sha256/" + hex_of(digest), bytes, 0444));
}

json descriptor(const Blob& blob) {
  return {{"mediaType", blob.media_type}, {"digest", blob.digest}, {"size", blob.bytes.size()}};
}

}  // namespace

std::string docker_save_archive(const std::vector<SavedImage>& images, DockerLayout layout) {
  std::vector<TarEntry> entries;
  std::set<std::string> written;
  json manifest = json::array();
  json index = {{"schemaVersion", 2}, {"mediaType", media_type::kOciIndex}, {"manifests", json::array()}};
  json repositories = json::object();
  if (layout == DockerLayout::kBlobs) {
    entries.push_back(dir("blobs"));
    entries.push_back(dir("blobs/sha256"));
  }
  for (const auto& saved : images) {
    const Image& image = saved.image;
    json layers = json::array();
    std::vector<Layer> tar_layers;
    for (const auto& layer : image.layers) {
      std::string tar = decompress(layer.data);
      std::string digest = sha256_digest(tar);
      if (layout == DockerLayout::kLegacy) {
        // Docker < 25 names a layer directory by a v1 id; any unique hex will do.
        std::string id = hex_of(sha256_digest(digest + image.config.digest));
        std::string path = id + "/layer.tar";
        if (written.insert(digest).second) {
          entries.push_back(dir(id));
          entries.push_back(file(id + "/VERSION", "1.0"));
          entries.push_back(file(id + "/json", "{}"));
          entries.push_back(file(path, tar));
        }
        layers.push_back(path);
      } else {
        add_blob(entries, written, tar);
        layers.push_back("blobs/sha256/" + hex_of(digest));
      }
      tar_layers.push_back(make_layer_from_tar(tar, Compression::kNone));
    }
    std::string config_path;
    if (layout == DockerLayout::kLegacy) {
      config_path = hex_of(image.config.digest) + ".json";
      entries.push_back(file(config_path, image.config.bytes));
    } else {
      add_blob(entries, written, image.config.bytes);
      config_path = "blobs/sha256/" + hex_of(image.config.digest);
      // Docker 25 also writes the image's (uncompressed) manifest and lists it in index.json.
      std::string manifest_json = build_manifest_json(ManifestFormat::kOci, image.config, tar_layers);
      add_blob(entries, written, manifest_json);
      for (const auto& tag : saved.tags) {
        std::string full = tag.find('/') == std::string::npos ? "docker.io/library/" + tag : tag;
        index["manifests"].push_back({{"mediaType", media_type::kOciManifest},
                                      {"digest", sha256_digest(manifest_json)},
                                      {"size", manifest_json.size()},
                                      {"annotations",
                                       {{"io.containerd.image.name", full},
                                        {"org.opencontainers.image.ref.name", tag.substr(tag.rfind(':') + 1)}}}});
      }
    }
    manifest.push_back({{"Config", config_path}, {"RepoTags", saved.tags}, {"Layers", layers}});
    for (const auto& tag : saved.tags) {
      size_t colon = tag.rfind(':');
      repositories[tag.substr(0, colon)][tag.substr(colon + 1)] = hex_of(image.config.digest);
    }
  }
  if (layout == DockerLayout::kBlobs) {
    entries.push_back(file("index.json", index.dump()));
    entries.push_back(file("oci-layout", R"({"imageLayoutVersion":"1.0.0"})"));
  }
  entries.push_back(file("manifest.json", manifest.dump()));
  if (layout == DockerLayout::kLegacy) entries.push_back(file("repositories", repositories.dump()));
  return build_tar(entries);
}

std::map<std::string, std::string> oci_layout_blobs(const Image& image) {
  std::map<std::string, std::string> out;
  out[image.manifest.digest] = image.manifest.bytes;
  out[image.config.digest] = image.config.bytes;
  for (const auto& layer : image.layers) out[layer.digest] = layer.data;
  return out;
}

std::map<std::string, std::string> oci_layout_blobs(const Index& index) {
  std::map<std::string, std::string> out;
  out[index.manifest.digest] = index.manifest.bytes;
  for (const auto& image : index.images) out.merge(oci_layout_blobs(image));
  return out;
}

std::string oci_layout_archive(const std::vector<LayoutEntry>& entries, const std::map<std::string, std::string>& blobs) {
  std::vector<TarEntry> tar{file("oci-layout", R"({"imageLayoutVersion":"1.0.0"})"), dir("blobs"), dir("blobs/sha256")};
  for (const auto& [digest, bytes] : blobs) tar.push_back(file("blobs/sha256/" + hex_of(digest), bytes, 0444));
  json index = {{"schemaVersion", 2}, {"mediaType", media_type::kOciIndex}, {"manifests", json::array()}};
  for (const auto& entry : entries) {
    if (entry.names.empty()) {
      json d = descriptor(entry.top);
      if (!entry.ref_name.empty()) d["annotations"] = {{"org.opencontainers.image.ref.name", entry.ref_name}};
      index["manifests"].push_back(d);
    }
    for (const auto& name : entry.names) {
      json d = descriptor(entry.top);
      d["annotations"] = {{"io.containerd.image.name", name},
                          {"org.opencontainers.image.ref.name", name.substr(name.rfind(':') + 1)}};
      index["manifests"].push_back(d);
    }
  }
  tar.push_back(file("index.json", index.dump()));
  return build_tar(tar);
}

std::vector<TarEntry> archive_entries(const std::string& tar) { return read_tar(tar); }

}  // namespace crisp::test
