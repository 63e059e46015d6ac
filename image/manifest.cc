#include "image/manifest.h"

#include <sys/utsname.h>

#include <nlohmann/json.hpp>

#include "image/reference.h"
#include "runtime/base/error.h"

namespace crisp::image {

namespace {

using json = nlohmann::json;

json parse_json(const std::string& bytes, const char* what) {
  try {
    json doc = json::parse(bytes);
    if (!doc.is_object()) throw Error(ErrorKind::kInvalidArgument, std::string(what) + " is not a JSON object");
    return doc;
  } catch (const json::exception& e) {
    throw Error(ErrorKind::kInvalidArgument, std::string(what) + " is not valid JSON: " + e.what());
  }
}

std::string string_field(const json& obj, const char* key) {
  auto it = obj.find(key);
  if (it == obj.end() || it->is_null()) return "";
  if (!it->is_string()) throw Error(ErrorKind::kInvalidArgument, std::string("field \"") + key + "\" is not a string");
  return it->get<std::string>();
}

std::vector<std::string> string_list(const json& obj, const char* key) {
  std::vector<std::string> out;
  auto it = obj.find(key);
  if (it == obj.end() || it->is_null()) return out;
  if (!it->is_array()) throw Error(ErrorKind::kInvalidArgument, std::string("field \"") + key + "\" is not a list");
  for (const auto& v : *it) {
    if (!v.is_string()) throw Error(ErrorKind::kInvalidArgument, std::string("field \"") + key + "\" holds a non-string");
    out.push_back(v.get<std::string>());
  }
  return out;
}

std::map<std::string, std::string> string_map(const json& obj, const char* key) {
  std::map<std::string, std::string> out;
  auto it = obj.find(key);
  if (it == obj.end() || it->is_null() || !it->is_object()) return out;
  for (const auto& [k, v] : it->items()) {
    if (v.is_string()) out[k] = v.get<std::string>();
  }
  return out;
}

std::vector<std::string> object_keys(const json& obj, const char* key) {
  std::vector<std::string> out;
  auto it = obj.find(key);
  if (it == obj.end() || !it->is_object()) return out;
  for (const auto& [k, v] : it->items()) out.push_back(k);
  return out;
}

Descriptor parse_descriptor(const json& d, const char* what) {
  if (!d.is_object()) throw Error(ErrorKind::kInvalidArgument, std::string(what) + " descriptor is not an object");
  Descriptor out;
  out.media_type = string_field(d, "mediaType");
  out.digest = string_field(d, "digest");
  if (!is_sha256_digest(out.digest)) {
    throw Error(ErrorKind::kInvalidArgument,
                std::string(what) + " descriptor has an unsupported digest \"" + out.digest + "\" (sha256 only)");
  }
  auto size = d.find("size");
  if (size == d.end() || !size->is_number_integer() || size->get<int64_t>() < 0) {
    throw Error(ErrorKind::kInvalidArgument, std::string(what) + " descriptor " + out.digest + " has no valid size");
  }
  out.size = size->get<uint64_t>();
  auto platform = d.find("platform");
  if (platform != d.end() && platform->is_object()) {
    out.has_platform = true;
    out.platform.os = string_field(*platform, "os");
    out.platform.architecture = string_field(*platform, "architecture");
    out.platform.variant = string_field(*platform, "variant");
  }
  out.annotations = string_map(d, "annotations");
  return out;
}

}  // namespace

std::string Platform::string() const {
  std::string out = os + "/" + architecture;
  if (!variant.empty()) out += "/" + variant;
  return out;
}

Platform normalize_platform(Platform p) {
  for (auto* s : {&p.os, &p.architecture, &p.variant}) {
    for (char& c : *s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  if (p.architecture == "x86_64" || p.architecture == "x86-64") {
    p.architecture = "amd64";
  } else if (p.architecture == "aarch64" || p.architecture == "arm64") {
    p.architecture = "arm64";
    if (p.variant.empty() || p.variant == "8") p.variant = "v8";
  } else if (p.architecture == "armhf") {
    p.architecture = "arm";
    p.variant = "v7";
  } else if (p.architecture == "armel") {
    p.architecture = "arm";
    p.variant = "v6";
  } else if (p.architecture == "i386" || p.architecture == "i686") {
    p.architecture = "386";
  }
  if (p.architecture == "amd64" && p.variant == "v1") p.variant = "";
  return p;
}

Platform host_platform() {
  struct utsname u {};
  ::uname(&u);
  Platform p{"linux", u.machine, ""};
  if (p.architecture.rfind("armv7", 0) == 0) {
    p.architecture = "arm";
    p.variant = "v7";
  } else if (p.architecture.rfind("armv6", 0) == 0) {
    p.architecture = "arm";
    p.variant = "v6";
  }
  return normalize_platform(p);
}

DocumentKind document_kind(const std::string& bytes, const std::string& content_type) {
  json doc = parse_json(bytes, "manifest");
  std::string media_type = string_field(doc, "mediaType");
  if (media_type.empty()) {
    media_type = content_type.substr(0, content_type.find(';'));
    while (!media_type.empty() && media_type.back() == ' ') media_type.pop_back();
  }
  if (media_type == media_types::kOciIndex || media_type == media_types::kDockerManifestList) return DocumentKind::kIndex;
  if (media_type == media_types::kOciManifest || media_type == media_types::kDockerManifest) return DocumentKind::kManifest;
  if (media_type.find("distribution.manifest.v1") != std::string::npos ||
      (doc.contains("schemaVersion") && doc["schemaVersion"] == 1)) {
    throw Error(ErrorKind::kInvalidArgument, "Docker schema1 manifests are not supported (push the image again with a current client)");
  }
  if (doc.contains("manifests")) return DocumentKind::kIndex;
  if (doc.contains("layers") && doc.contains("config")) return DocumentKind::kManifest;
  throw Error(ErrorKind::kInvalidArgument, "unsupported manifest media type \"" + media_type + "\"");
}

Manifest parse_manifest(const std::string& bytes) {
  json doc = parse_json(bytes, "manifest");
  Manifest m;
  m.media_type = string_field(doc, "mediaType");
  if (!doc.contains("config")) throw Error(ErrorKind::kInvalidArgument, "manifest has no config descriptor");
  m.config = parse_descriptor(doc["config"], "config");
  auto layers = doc.find("layers");
  if (layers == doc.end() || !layers->is_array()) throw Error(ErrorKind::kInvalidArgument, "manifest has no layers list");
  for (const auto& l : *layers) m.layers.push_back(parse_descriptor(l, "layer"));
  m.annotations = string_map(doc, "annotations");
  return m;
}

Index parse_index(const std::string& bytes) {
  json doc = parse_json(bytes, "index");
  Index idx;
  idx.media_type = string_field(doc, "mediaType");
  auto manifests = doc.find("manifests");
  if (manifests == doc.end() || !manifests->is_array()) throw Error(ErrorKind::kInvalidArgument, "index has no manifests list");
  for (const auto& d : *manifests) idx.manifests.push_back(parse_descriptor(d, "index entry"));
  return idx;
}

Descriptor choose_platform(const Index& index, const Platform& want_raw) {
  Platform want = normalize_platform(want_raw);
  std::string available;
  const Descriptor* loose = nullptr;  // same os/arch, entry without a variant
  for (const auto& d : index.manifests) {
    if (!d.has_platform) continue;
    Platform p = normalize_platform(d.platform);
    if (!available.empty()) available += ", ";
    available += p.string();
    if (p.os != want.os || p.architecture != want.architecture) continue;
    if (p.variant == want.variant) return d;
    if (p.variant.empty() || want.variant.empty()) {
      if (!loose) loose = &d;
    }
  }
  if (loose) return *loose;
  throw Error(ErrorKind::kNotFound, "no image for platform " + want.string() + " in the index (available: " +
                                        (available.empty() ? std::string("none") : available) + ")");
}

bool is_supported_layer_type(const std::string& media_type) {
  static const char* kTypes[] = {
      "application/vnd.docker.image.rootfs.diff.tar.gzip",
      "application/vnd.docker.image.rootfs.diff.tar",
      "application/vnd.oci.image.layer.v1.tar",
      "application/vnd.oci.image.layer.v1.tar+gzip",
      "application/vnd.oci.image.layer.v1.tar+zstd",
  };
  for (const char* t : kTypes) {
    if (media_type == t) return true;
  }
  return false;
}

ParsedConfig parse_image_config(const std::string& bytes) {
  json doc = parse_json(bytes, "image config");
  ParsedConfig out;
  out.platform.os = string_field(doc, "os");
  out.platform.architecture = string_field(doc, "architecture");
  out.platform.variant = string_field(doc, "variant");
  auto cfg = doc.find("config");
  if (cfg != doc.end() && cfg->is_object()) {
    const json& c = *cfg;
    out.config.user = string_field(c, "User");
    out.config.env = string_list(c, "Env");
    out.config.entrypoint = string_list(c, "Entrypoint");
    out.config.cmd = string_list(c, "Cmd");
    out.config.working_dir = string_field(c, "WorkingDir");
    out.config.stop_signal = string_field(c, "StopSignal");
    out.config.labels = string_map(c, "Labels");
    out.config.exposed_ports = object_keys(c, "ExposedPorts");
    out.config.volumes = object_keys(c, "Volumes");
  }
  auto rootfs = doc.find("rootfs");
  if (rootfs == doc.end() || !rootfs->is_object()) throw Error(ErrorKind::kInvalidArgument, "image config has no rootfs");
  out.diff_ids = string_list(*rootfs, "diff_ids");
  for (const auto& id : out.diff_ids) {
    if (!is_sha256_digest(id)) throw Error(ErrorKind::kInvalidArgument, "image config has a bad diff_id \"" + id + "\"");
  }
  return out;
}

}  // namespace crisp::image
