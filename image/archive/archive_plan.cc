// plan_import: which images an archive holds (OCI index.json or docker manifest.json), resolved
// and checked against the blobs read_archive() stored.
#include <nlohmann/json.hpp>

#include <algorithm>

#include "image/archive/image_archive.h"
#include "image/digest.h"
#include "image/reference.h"
#include "runtime/base/error.h"

namespace crisp::image::archive {

namespace {

using json = nlohmann::json;

constexpr int kMaxIndexDepth = 8;
constexpr const char* kDockerConfigType = "application/vnd.docker.container.image.v1+json";
constexpr const char* kOciConfigType = "application/vnd.oci.image.config.v1+json";

[[noreturn]] void invalid(const std::string& message) {
  throw Error(ErrorKind::kInvalidArgument, "image archive: " + message);
}

void add_unique(std::vector<std::string>& v, const std::string& value) {
  if (std::find(v.begin(), v.end(), value) == v.end()) v.push_back(value);
}

json parse_json(const std::string& bytes, const std::string& what) {
  try {
    return json::parse(bytes);
  } catch (const json::exception& e) {
    invalid(what + " is not valid JSON: " + e.what());
  }
}

std::vector<std::string> string_array(const json& obj, const char* key, const std::string& what) {
  std::vector<std::string> out;
  auto it = obj.find(key);
  if (it == obj.end() || it->is_null()) return out;
  if (!it->is_array()) invalid(what + ": \"" + key + "\" is not a list");
  for (const auto& v : *it) {
    if (!v.is_string()) invalid(what + ": \"" + key + "\" holds a non-string");
    out.push_back(v.get<std::string>());
  }
  return out;
}

// A docker save manifest.json entry.
struct DockerEntry {
  std::string config;
  std::vector<std::string> repo_tags;
  std::vector<std::string> layers;
};

std::vector<DockerEntry> parse_docker_manifest(const std::string& bytes) {
  json doc = parse_json(bytes, "manifest.json");
  if (!doc.is_array()) invalid("manifest.json is not a JSON list");
  std::vector<DockerEntry> out;
  for (const auto& e : doc) {
    if (!e.is_object()) invalid("manifest.json holds an entry that is not an object");
    DockerEntry d;
    auto config = e.find("Config");
    if (config == e.end() || !config->is_string() || config->get<std::string>().empty()) {
      invalid("a manifest.json entry has no Config");
    }
    d.config = config->get<std::string>();
    d.repo_tags = string_array(e, "RepoTags", "manifest.json");
    d.layers = string_array(e, "Layers", "manifest.json");
    out.push_back(std::move(d));
  }
  return out;
}

std::string layer_media_type_of(const std::string& head, bool oci) {
  const auto* b = reinterpret_cast<const unsigned char*>(head.data());
  if (head.size() >= 2 && b[0] == 0x1f && b[1] == 0x8b) {
    return oci ? "application/vnd.oci.image.layer.v1.tar+gzip" : "application/vnd.docker.image.rootfs.diff.tar.gzip";
  }
  if (head.size() >= 4 && b[0] == 0x28 && b[1] == 0xb5 && b[2] == 0x2f && b[3] == 0xfd) {
    return "application/vnd.oci.image.layer.v1.tar+zstd";
  }
  return oci ? "application/vnd.oci.image.layer.v1.tar" : "application/vnd.docker.image.rootfs.diff.tar";
}

bool is_zstd(const std::string& head) {
  const auto* b = reinterpret_cast<const unsigned char*>(head.data());
  return head.size() >= 4 && b[0] == 0x28 && b[1] == 0xb5 && b[2] == 0x2f && b[3] == 0xfd;
}

class Planner {
 public:
  Planner(const ArchiveContents& contents, BlobSource& blobs, const PlanOptions& options)
      : contents_(contents), blobs_(blobs), options_(options) {}

  std::vector<PlannedImage> run() {
    const std::string* index_json = contents_.file("index.json");
    const std::string* manifest_json = contents_.file("manifest.json");
    if (!index_json && contents_.digest_of("index.json")) invalid("index.json is too large");
    if (!manifest_json && contents_.digest_of("manifest.json")) invalid("manifest.json is too large");
    if (!index_json && !manifest_json) {
      invalid("not an image archive: it has neither index.json (OCI image layout) nor manifest.json (docker save)");
    }
    if (index_json) {
      plan_oci(*index_json);
      // Docker 25+ writes both: its manifest.json may name tags the index does not.
      if (manifest_json) add_docker_tags(*manifest_json);
    } else {
      plan_docker(*manifest_json);
    }
    if (images_.empty()) {
      if (platform_error_) std::rethrow_exception(platform_error_);
      throw Error(ErrorKind::kNotFound, "image archive: no image for platform " + options_.platform.string() +
                                            (skipped_.empty() ? std::string() : " (it holds " + skipped_ + ")"));
    }
    return images_;
  }

 private:
  // A blob the archive (or the store) holds, checked against its descriptor; returns its bytes.
  std::string read_blob(const Descriptor& d, uint64_t max_bytes, const std::string& what) {
    check_blob(d, what);
    if (d.size > max_bytes) {
      invalid(what + " " + d.digest + " is " + std::to_string(d.size) + " bytes, over the limit of " +
              std::to_string(max_bytes));
    }
    auto bytes = blobs_.read(d.digest, max_bytes);
    if (!bytes) invalid(what + " " + d.digest + " is missing from the archive");
    return std::move(*bytes);
  }

  void check_blob(const Descriptor& d, const std::string& what) {
    auto size = blobs_.size(d.digest);
    if (!size) invalid(what + " " + d.digest + " is missing from the archive");
    if (*size != d.size) {
      invalid(what + " " + d.digest + " is " + std::to_string(*size) + " bytes but its descriptor says " +
              std::to_string(d.size));
    }
  }

  struct Resolved {
    Descriptor descriptor;
    std::string bytes;
    Manifest manifest;
    std::string config_bytes;
    ParsedConfig config;
  };

  Resolved resolve_manifest(const Descriptor& d, const std::string& bytes) {
    Resolved r;
    r.descriptor = d;
    r.bytes = bytes;
    r.manifest = parse_manifest(bytes);
    if (r.descriptor.media_type.empty()) r.descriptor.media_type = r.manifest.media_type;
    r.config_bytes = read_blob(r.manifest.config, options_.max_config_bytes, "config");
    r.config = parse_image_config(r.config_bytes);
    if (r.config.diff_ids.size() != r.manifest.layers.size()) {
      invalid("image " + d.digest + ": the config lists " + std::to_string(r.config.diff_ids.size()) +
              " layers, the manifest " + std::to_string(r.manifest.layers.size()));
    }
    for (const auto& layer : r.manifest.layers) {
      if (!is_supported_layer_type(layer.media_type)) {
        invalid("layer " + layer.digest + " has an unsupported media type \"" + layer.media_type + "\"");
      }
      check_blob(layer, "layer");
    }
    return r;
  }

  // The node's platform manifest below `d` (d itself when it is a manifest); the indexes walked
  // on the way are appended to `path`.
  Resolved choose(const Descriptor& d, std::vector<std::string>& path, int depth) {
    if (depth > kMaxIndexDepth) invalid("indexes nested more than " + std::to_string(kMaxIndexDepth) + " deep");
    std::string bytes = read_blob(d, options_.max_manifest_bytes, "manifest");
    if (document_kind(bytes, d.media_type) == DocumentKind::kManifest) return resolve_manifest(d, bytes);
    path.push_back(d.digest);
    Index index = parse_index(bytes);
    Descriptor child;
    try {
      child = choose_platform(index, options_.platform);
    } catch (const Error& e) {
      if (e.kind() != ErrorKind::kNotFound) throw;
      // Nested indexes often carry no platform: look inside them.
      for (const auto& entry : index.manifests) {
        if (entry.has_platform) continue;
        std::string entry_bytes = read_blob(entry, options_.max_manifest_bytes, "manifest");
        if (document_kind(entry_bytes, entry.media_type) != DocumentKind::kIndex) continue;
        try {
          return choose(entry, path, depth + 1);
        } catch (const Error& inner) {
          if (inner.kind() != ErrorKind::kNotFound) throw;
        }
      }
      throw;
    }
    return choose(child, path, depth + 1);
  }

  // Every blob below `d` (all platforms); each must be present.
  void collect_all(const Descriptor& d, std::vector<std::string>& out, int depth) {
    if (depth > kMaxIndexDepth) invalid("indexes nested more than " + std::to_string(kMaxIndexDepth) + " deep");
    std::string bytes = read_blob(d, options_.max_manifest_bytes, "manifest");
    add_unique(out, d.digest);
    if (document_kind(bytes, d.media_type) == DocumentKind::kIndex) {
      for (const auto& child : parse_index(bytes).manifests) collect_all(child, out, depth + 1);
      return;
    }
    Manifest m = parse_manifest(bytes);
    check_blob(m.config, "config");
    add_unique(out, m.config.digest);
    for (const auto& layer : m.layers) {
      check_blob(layer, "layer");
      add_unique(out, layer.digest);
    }
  }

  void plan_oci(const std::string& index_json) {
    if (contents_.file("oci-layout")) {
      json layout = parse_json(*contents_.file("oci-layout"), "oci-layout");
      if (!layout.is_object()) invalid("oci-layout is not a JSON object");
    }
    Index index;
    try {
      index = parse_index(index_json);
    } catch (const Error& e) {
      invalid(std::string("index.json: ") + e.what());
    }
    for (const auto& top : index.manifests) {
      if (top.has_platform) {
        Index one;
        one.manifests.push_back(top);
        try {
          choose_platform(one, options_.platform);
        } catch (const Error&) {
          note_skipped(top.platform.string());
          continue;
        }
      }
      std::vector<std::string> path;
      Resolved r;
      try {
        r = choose(top, path, 0);
      } catch (const Error& e) {
        if (e.kind() != ErrorKind::kNotFound) throw;
        if (!platform_error_) platform_error_ = std::current_exception();
        continue;
      }
      PlannedImage p = planned(r);
      p.blobs = path;
      for (const auto& b : image_blobs(r)) add_unique(p.blobs, b);
      if (options_.all_platforms && top.digest != r.descriptor.digest) collect_all(top, p.blobs, 0);
      std::string name = image_name_from_annotations(top.annotations);
      if (!name.empty()) {
        Reference ref;
        try {
          ref = parse_reference(name);
        } catch (const Error& e) {
          invalid("index.json names an image \"" + name + "\": " + e.what());
        }
        if (!ref.tag.empty()) p.repo_tags.push_back(ref.name() + ":" + ref.tag);
        p.repo_digests.push_back(ref.name() + "@" + top.digest);
      }
      add(std::move(p));
    }
  }

  std::vector<std::string> image_blobs(const Resolved& r) {
    std::vector<std::string> out{r.descriptor.digest, r.manifest.config.digest};
    for (const auto& layer : r.manifest.layers) add_unique(out, layer.digest);
    return out;
  }

  PlannedImage planned(const Resolved& r) {
    PlannedImage p;
    p.id = r.manifest.config.digest;
    p.manifest_digest = r.descriptor.digest;
    p.manifest_bytes = r.bytes;
    p.media_type = r.descriptor.media_type.empty() ? r.manifest.media_type : r.descriptor.media_type;
    p.manifest = r.manifest;
    p.config_bytes = r.config_bytes;
    p.config = r.config;
    return p;
  }

  // A file of a docker save archive: stored (digest, size, head) or a small metadata file.
  struct Found {
    std::string digest;
    uint64_t size = 0;
    std::string head;                   // first bytes (compression sniffing)
    const std::string* bytes = nullptr; // set for a metadata file kept in memory
  };

  Found find(const std::string& raw_path, const std::string& what) {
    std::string path;
    try {
      path = clean_entry_path(raw_path);
    } catch (const Error& e) {
      invalid("manifest.json names " + what + " \"" + raw_path + "\": " + e.what());
    }
    Found f;
    if (auto digest = contents_.digest_of(path)) {
      auto size = blobs_.size(*digest);
      if (!size) invalid(what + " \"" + raw_path + "\" is missing from the archive");
      f.digest = *digest;
      f.size = *size;
      f.head = blobs_.head(*digest, 4);
      return f;
    }
    if (const std::string* bytes = contents_.file(path)) {
      f.bytes = bytes;
      f.digest = sha256_digest(*bytes);
      f.size = bytes->size();
      f.head = bytes->substr(0, 4);
      return f;
    }
    invalid(what + " \"" + raw_path + "\" listed in manifest.json is missing from the archive");
  }

  std::string config_digest_of(const DockerEntry& e) { return find(e.config, "config").digest; }

  void plan_docker(const std::string& manifest_json) {
    for (const auto& e : parse_docker_manifest(manifest_json)) {
      PlannedImage p;
      Found config = find(e.config, "config");
      if (config.size > options_.max_config_bytes) {
        invalid("config \"" + e.config + "\" is " + std::to_string(config.size) + " bytes, over the limit of " +
                std::to_string(options_.max_config_bytes));
      }
      if (config.bytes) {
        p.config_bytes = *config.bytes;
        p.new_blobs[config.digest] = p.config_bytes;
      } else {
        p.config_bytes = *blobs_.read(config.digest, options_.max_config_bytes);
      }
      p.id = config.digest;
      p.config = parse_image_config(p.config_bytes);
      if (p.config.diff_ids.size() != e.layers.size()) {
        invalid("image " + p.id + ": the config lists " + std::to_string(p.config.diff_ids.size()) +
                " layers, manifest.json " + std::to_string(e.layers.size()));
      }
      std::vector<Found> layers;
      bool oci = false;
      for (const auto& path : e.layers) {
        layers.push_back(find(path, "layer"));
        if (layers.back().bytes) p.new_blobs[layers.back().digest] = *layers.back().bytes;
        oci = oci || is_zstd(layers.back().head);
      }
      // The registry manifest docker save does not keep, made from what it does.
      json manifest = {{"schemaVersion", 2},
                       {"mediaType", oci ? media_types::kOciManifest : media_types::kDockerManifest},
                       {"config",
                        {{"mediaType", oci ? kOciConfigType : kDockerConfigType},
                         {"digest", p.id},
                         {"size", config.size}}},
                       {"layers", json::array()}};
      for (const auto& layer : layers) {
        manifest["layers"].push_back(
            {{"mediaType", layer_media_type_of(layer.head, oci)}, {"digest", layer.digest}, {"size", layer.size}});
      }
      p.manifest_bytes = manifest.dump();
      p.manifest_digest = sha256_digest(p.manifest_bytes);
      p.media_type = oci ? media_types::kOciManifest : media_types::kDockerManifest;
      p.manifest = parse_manifest(p.manifest_bytes);
      p.new_blobs[p.manifest_digest] = p.manifest_bytes;
      p.blobs = {p.manifest_digest, p.id};
      for (const auto& layer : layers) add_unique(p.blobs, layer.digest);
      for (const auto& tag : e.repo_tags) add_unique(p.repo_tags, normalize_tag(tag));
      add(std::move(p));
    }
  }

  void add_docker_tags(const std::string& manifest_json) {
    for (const auto& e : parse_docker_manifest(manifest_json)) {
      if (e.repo_tags.empty()) continue;
      std::string id = config_digest_of(e);
      for (auto& image : images_) {
        if (image.id != id) continue;
        for (const auto& tag : e.repo_tags) add_unique(image.repo_tags, normalize_tag(tag));
      }
    }
  }

  void add(PlannedImage p) {
    // A tag names one image: the last image in the archive that claims it keeps it.
    for (auto& other : images_) {
      if (other.id == p.id) continue;
      for (const auto& tag : p.repo_tags) {
        other.repo_tags.erase(std::remove(other.repo_tags.begin(), other.repo_tags.end(), tag), other.repo_tags.end());
      }
    }
    for (auto& image : images_) {
      if (image.id != p.id) continue;
      for (const auto& t : p.repo_tags) add_unique(image.repo_tags, t);
      for (const auto& d : p.repo_digests) add_unique(image.repo_digests, d);
      for (const auto& b : p.blobs) add_unique(image.blobs, b);
      image.new_blobs.insert(p.new_blobs.begin(), p.new_blobs.end());
      return;
    }
    images_.push_back(std::move(p));
  }

  void note_skipped(const std::string& platform) {
    if (skipped_.find(platform) != std::string::npos) return;
    if (!skipped_.empty()) skipped_ += ", ";
    skipped_ += platform;
  }

  const ArchiveContents& contents_;
  BlobSource& blobs_;
  const PlanOptions& options_;
  std::vector<PlannedImage> images_;
  std::exception_ptr platform_error_;  // the first "no image for the platform" of an index
  std::string skipped_;                // platforms of top-level manifests that were not the node's
};

}  // namespace

std::optional<std::string> BlobSource::read(const std::string& digest, uint64_t max_bytes) {
  auto n = size(digest);
  if (!n) return std::nullopt;
  if (*n > max_bytes) {
    invalid("blob " + digest + " is " + std::to_string(*n) + " bytes, over the limit of " + std::to_string(max_bytes));
  }
  ByteReader reader = open(digest);
  std::string out(*n, '\0');
  size_t got = 0;
  while (got < out.size()) {
    size_t k = reader(out.data() + got, out.size() - got);
    if (k == 0) break;
    got += k;
  }
  out.resize(got);
  return out;
}

std::string BlobSource::head(const std::string& digest, size_t n) {
  std::string out(n, '\0');
  ByteReader reader = open(digest);
  size_t got = 0;
  while (got < n) {
    size_t k = reader(out.data() + got, n - got);
    if (k == 0) break;
    got += k;
  }
  out.resize(got);
  return out;
}

std::string normalize_tag(const std::string& tag) {
  Reference ref;
  try {
    ref = parse_reference(tag);
  } catch (const Error& e) {
    invalid("bad image tag \"" + tag + "\": " + e.what());
  }
  if (ref.tag.empty()) invalid("\"" + tag + "\" is not a tag");
  return ref.name() + ":" + ref.tag;
}

std::string image_name_from_annotations(const std::map<std::string, std::string>& a) {
  auto it = a.find(annotations::kContainerdImageName);
  if (it != a.end() && !it->second.empty()) return it->second;
  it = a.find(annotations::kOciRefName);
  if (it != a.end() && it->second.find_first_of("/:@") != std::string::npos) return it->second;
  return "";
}

std::string familiar_name(const std::string& name) {
  Reference ref = parse_reference(name);
  std::string path = ref.path;
  std::string out;
  if (ref.domain == "docker.io") {
    out = path.rfind("library/", 0) == 0 ? path.substr(8) : path;
  } else {
    out = ref.name();
  }
  if (!ref.tag.empty()) out += ":" + ref.tag;
  if (!ref.digest.empty()) out += "@" + ref.digest;
  return out;
}

std::vector<PlannedImage> plan_import(const ArchiveContents& contents, BlobSource& blobs, const PlanOptions& options) {
  return Planner(contents, blobs, options).run();
}

}  // namespace crisp::image::archive
