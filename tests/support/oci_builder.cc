#include "tests/support/oci_builder.h"

#include <archive.h>
#include <archive_entry.h>
#include <openssl/evp.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include <algorithm>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <utility>

#include "runtime/base/error.h"
#include "runtime/base/file_util.h"

namespace crisp::test {
namespace {

struct ArchiveWriteDeleter {
  void operator()(archive* a) const { archive_write_free(a); }
};
struct ArchiveReadDeleter {
  void operator()(archive* a) const { archive_read_free(a); }
};
struct EntryDeleter {
  void operator()(archive_entry* e) const { archive_entry_free(e); }
};
using WriteArchive = std::unique_ptr<archive, ArchiveWriteDeleter>;
using ReadArchive = std::unique_ptr<archive, ArchiveReadDeleter>;
using Entry = std::unique_ptr<archive_entry, EntryDeleter>;

void check(archive* a, int rc, const std::string& what) {
  if (rc < ARCHIVE_WARN) {
    const char* msg = archive_error_string(a);
    throw Error(ErrorKind::kInternal, what + ": " + (msg ? msg : "libarchive error"));
  }
}

la_ssize_t append_to_string(archive*, void* client, const void* buffer, size_t length) {
  static_cast<std::string*>(client)->append(static_cast<const char*>(buffer), length);
  return static_cast<la_ssize_t>(length);
}

unsigned type_bits(TarEntry::Type type) {
  switch (type) {
    case TarEntry::Type::kFile:
    case TarEntry::Type::kHardlink:
      return AE_IFREG;
    case TarEntry::Type::kDir:
      return AE_IFDIR;
    case TarEntry::Type::kSymlink:
      return AE_IFLNK;
    case TarEntry::Type::kCharDevice:
      return AE_IFCHR;
    case TarEntry::Type::kBlockDevice:
      return AE_IFBLK;
    case TarEntry::Type::kFifo:
      return AE_IFIFO;
  }
  return AE_IFREG;
}

}  // namespace

TarEntry file(std::string name, std::string content, unsigned mode, uint32_t uid, uint32_t gid) {
  TarEntry e;
  e.type = TarEntry::Type::kFile;
  e.name = std::move(name);
  e.content = std::move(content);
  e.mode = mode;
  e.uid = uid;
  e.gid = gid;
  return e;
}

TarEntry dir(std::string name, unsigned mode, uint32_t uid, uint32_t gid) {
  TarEntry e;
  e.type = TarEntry::Type::kDir;
  e.name = std::move(name);
  e.mode = mode;
  e.uid = uid;
  e.gid = gid;
  return e;
}

TarEntry symlink(std::string name, std::string target) {
  TarEntry e;
  e.type = TarEntry::Type::kSymlink;
  e.name = std::move(name);
  e.link_target = std::move(target);
  e.mode = 0777;
  return e;
}

TarEntry hardlink(std::string name, std::string target) {
  TarEntry e;
  e.type = TarEntry::Type::kHardlink;
  e.name = std::move(name);
  e.link_target = std::move(target);
  return e;
}

TarEntry char_device(std::string name, unsigned major, unsigned minor, unsigned mode) {
  TarEntry e;
  e.type = TarEntry::Type::kCharDevice;
  e.name = std::move(name);
  e.dev_major = major;
  e.dev_minor = minor;
  e.mode = mode;
  return e;
}

TarEntry fifo(std::string name, unsigned mode) {
  TarEntry e;
  e.type = TarEntry::Type::kFifo;
  e.name = std::move(name);
  e.mode = mode;
  return e;
}

TarEntry whiteout(const std::string& path) {
  auto slash = path.rfind('/');
  std::string name = slash == std::string::npos
                         ? ".wh." + path
                         : path.substr(0, slash + 1) + ".wh." + path.substr(slash + 1);
  return file(std::move(name), "", 0644);
}

TarEntry opaque_whiteout(const std::string& dir_path) {
  std::string prefix = dir_path;
  while (!prefix.empty() && prefix.back() == '/') prefix.pop_back();
  return file(prefix.empty() ? ".wh..wh..opq" : prefix + "/.wh..wh..opq", "", 0644);
}

std::vector<TarEntry> entries_from_directory(const std::string& host_dir,
                                             const std::string& prefix) {
  namespace fs = std::filesystem;
  std::vector<std::string> relative;
  for (auto it = fs::recursive_directory_iterator(host_dir); it != fs::recursive_directory_iterator();
       ++it) {
    relative.push_back(it->path().lexically_relative(host_dir).string());  // no symlink resolution
  }
  std::sort(relative.begin(), relative.end());
  std::map<std::pair<dev_t, ino_t>, std::string> first_link;
  std::vector<TarEntry> entries;
  for (const auto& rel : relative) {
    std::string host_path = host_dir + "/" + rel;
    struct stat st;
    if (::lstat(host_path.c_str(), &st) != 0) throw_errno("lstat " + host_path);
    TarEntry e;
    e.name = prefix + rel;
    e.mode = st.st_mode & 07777;
    e.uid = st.st_uid;
    e.gid = st.st_gid;
    if (S_ISDIR(st.st_mode)) {
      e.type = TarEntry::Type::kDir;
    } else if (S_ISLNK(st.st_mode)) {
      e.type = TarEntry::Type::kSymlink;
      e.link_target = fs::read_symlink(host_path).string();
    } else if (S_ISREG(st.st_mode)) {
      auto key = std::make_pair(st.st_dev, st.st_ino);
      auto found = st.st_nlink > 1 ? first_link.find(key) : first_link.end();
      if (found != first_link.end()) {
        e.type = TarEntry::Type::kHardlink;
        e.link_target = found->second;
      } else {
        e.type = TarEntry::Type::kFile;
        e.content = read_file(host_path);
        if (st.st_nlink > 1) first_link.emplace(key, e.name);
      }
    } else if (S_ISCHR(st.st_mode) || S_ISBLK(st.st_mode)) {
      e.type = S_ISCHR(st.st_mode) ? TarEntry::Type::kCharDevice : TarEntry::Type::kBlockDevice;
      e.dev_major = major(st.st_rdev);
      e.dev_minor = minor(st.st_rdev);
    } else if (S_ISFIFO(st.st_mode)) {
      e.type = TarEntry::Type::kFifo;
    } else {
      continue;  // sockets are not archived
    }
    entries.push_back(std::move(e));
  }
  return entries;
}

std::string sha256_digest(const std::string& bytes) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (EVP_Digest(bytes.data(), bytes.size(), md, &len, EVP_sha256(), nullptr) != 1) {
    throw Error(ErrorKind::kInternal, "sha256 failed");
  }
  static const char* hex = "0123456789abcdef";
  std::string out = "sha256:";
  for (unsigned i = 0; i < len; ++i) {
    out += hex[md[i] >> 4];
    out += hex[md[i] & 15];
  }
  return out;
}

std::string build_tar(const std::vector<TarEntry>& entries) {
  std::string out;
  WriteArchive a(archive_write_new());
  check(a.get(), archive_write_set_format_pax_restricted(a.get()), "tar format");
  check(a.get(), archive_write_add_filter_none(a.get()), "tar filter");
  check(a.get(), archive_write_open(a.get(), &out, nullptr, append_to_string, nullptr), "tar open");
  // A hardlink's header describes the inode it links to, as tar writers record it (extractors
  // such as containerd's apply its mode to that inode).
  std::map<std::string, const TarEntry*> written;
  for (const auto& entry : entries) {
    TarEntry te = entry;
    if (te.type == TarEntry::Type::kHardlink) {
      auto target = written.find(te.link_target);
      if (target != written.end()) {
        te.mode = target->second->mode;
        te.uid = target->second->uid;
        te.gid = target->second->gid;
        te.mtime = target->second->mtime;
      }
    } else {
      written[te.name] = &entry;
    }
    Entry e(archive_entry_new());
    archive_entry_copy_pathname(e.get(), te.name.c_str());
    archive_entry_set_filetype(e.get(), type_bits(te.type));
    archive_entry_set_perm(e.get(), te.mode & 07777);
    archive_entry_set_uid(e.get(), te.uid);
    archive_entry_set_gid(e.get(), te.gid);
    archive_entry_set_mtime(e.get(), te.mtime, 0);
    archive_entry_set_size(e.get(), 0);
    switch (te.type) {
      case TarEntry::Type::kFile:
        archive_entry_set_size(e.get(), static_cast<la_int64_t>(te.content.size()));
        break;
      case TarEntry::Type::kSymlink:
        archive_entry_copy_symlink(e.get(), te.link_target.c_str());
        break;
      case TarEntry::Type::kHardlink:
        archive_entry_copy_hardlink(e.get(), te.link_target.c_str());
        break;
      case TarEntry::Type::kCharDevice:
      case TarEntry::Type::kBlockDevice:
        archive_entry_set_rdevmajor(e.get(), te.dev_major);
        archive_entry_set_rdevminor(e.get(), te.dev_minor);
        break;
      default:
        break;
    }
    for (const auto& [key, value] : te.xattrs) {
      archive_entry_xattr_add_entry(e.get(), key.c_str(), value.data(), value.size());
    }
    check(a.get(), archive_write_header(a.get(), e.get()), "tar header " + te.name);
    if (te.type == TarEntry::Type::kFile && !te.content.empty()) {
      la_ssize_t n = archive_write_data(a.get(), te.content.data(), te.content.size());
      if (n < 0 || static_cast<size_t>(n) != te.content.size()) {
        check(a.get(), ARCHIVE_FATAL, "tar data " + te.name);
      }
    }
  }
  check(a.get(), archive_write_close(a.get()), "tar close");
  return out;
}

std::string compress(const std::string& bytes, Compression compression, int level) {
  if (compression == Compression::kNone) return bytes;
  std::string out;
  WriteArchive a(archive_write_new());
  check(a.get(), archive_write_set_format_raw(a.get()), "raw format");
  if (compression == Compression::kGzip) {
    check(a.get(), archive_write_add_filter_gzip(a.get()), "gzip filter");
    // No mtime in the gzip header, so equal inputs give equal digests.
    check(a.get(), archive_write_set_filter_option(a.get(), "gzip", "timestamp", nullptr),
          "gzip timestamp");
  } else {
    check(a.get(), archive_write_add_filter_zstd(a.get()), "zstd filter");
  }
  if (level >= 0) {
    std::string value = std::to_string(level);
    check(a.get(),
          archive_write_set_filter_option(a.get(), nullptr, "compression-level", value.c_str()),
          "compression level");
  }
  check(a.get(), archive_write_set_bytes_per_block(a.get(), 0), "block size");
  check(a.get(), archive_write_open(a.get(), &out, nullptr, append_to_string, nullptr),
        "compress open");
  Entry e(archive_entry_new());
  archive_entry_copy_pathname(e.get(), "data");
  archive_entry_set_filetype(e.get(), AE_IFREG);
  archive_entry_set_size(e.get(), static_cast<la_int64_t>(bytes.size()));
  check(a.get(), archive_write_header(a.get(), e.get()), "compress header");
  size_t offset = 0;
  while (offset < bytes.size()) {
    size_t chunk = std::min<size_t>(bytes.size() - offset, 1 << 20);
    la_ssize_t n = archive_write_data(a.get(), bytes.data() + offset, chunk);
    if (n <= 0) check(a.get(), ARCHIVE_FATAL, "compress data");
    offset += static_cast<size_t>(n);
  }
  check(a.get(), archive_write_close(a.get()), "compress close");
  return out;
}

std::string decompress(const std::string& bytes) {
  ReadArchive a(archive_read_new());
  check(a.get(), archive_read_support_filter_all(a.get()), "read filter");
  check(a.get(), archive_read_support_format_raw(a.get()), "raw format");
  check(a.get(), archive_read_open_memory(a.get(), bytes.data(), bytes.size()), "read open");
  archive_entry* e = nullptr;
  std::string out;
  int rc = archive_read_next_header(a.get(), &e);
  if (rc == ARCHIVE_EOF) return out;
  check(a.get(), rc, "decompress header");
  char buffer[65536];
  for (;;) {
    la_ssize_t n = archive_read_data(a.get(), buffer, sizeof buffer);
    if (n < 0) check(a.get(), ARCHIVE_FATAL, "decompress data");
    if (n == 0) break;
    out.append(buffer, static_cast<size_t>(n));
  }
  return out;
}

Layer make_layer_from_tar(const std::string& tar, Compression compression, int level) {
  Layer layer;
  layer.compression = compression;
  layer.diff_id = sha256_digest(tar);
  layer.data = compress(tar, compression, level);
  layer.digest = compression == Compression::kNone ? layer.diff_id : sha256_digest(layer.data);
  layer.size = layer.data.size();
  return layer;
}

Layer make_layer(const std::vector<TarEntry>& entries, Compression compression, int level) {
  return make_layer_from_tar(build_tar(entries), compression, level);
}

std::string layer_media_type(Compression compression, ManifestFormat format) {
  if (format == ManifestFormat::kDockerSchema2) {
    if (compression != Compression::kGzip) {
      throw Error(ErrorKind::kInvalidArgument, "Docker schema2 layers must be gzip");
    }
    return media_type::kDockerLayerGzip;
  }
  switch (compression) {
    case Compression::kGzip:
      return media_type::kOciLayerGzip;
    case Compression::kZstd:
      return media_type::kOciLayerZstd;
    case Compression::kNone:
      return media_type::kOciLayerTar;
  }
  return media_type::kOciLayerGzip;
}

std::string build_config_json(const ImageConfig& config, const std::vector<Layer>& layers) {
  using nlohmann::json;
  json c = json::object();
  if (!config.user.empty()) c["User"] = config.user;
  if (!config.env.empty()) c["Env"] = config.env;
  if (config.entrypoint) c["Entrypoint"] = *config.entrypoint;
  if (config.cmd) c["Cmd"] = *config.cmd;
  if (!config.working_dir.empty()) c["WorkingDir"] = config.working_dir;
  if (!config.stop_signal.empty()) c["StopSignal"] = config.stop_signal;
  if (!config.labels.empty()) c["Labels"] = config.labels;
  for (const auto& port : config.exposed_ports) c["ExposedPorts"][port] = json::object();
  for (const auto& volume : config.volumes) c["Volumes"][volume] = json::object();

  json doc;
  doc["architecture"] = config.platform.architecture;
  doc["os"] = config.platform.os;
  if (!config.platform.variant.empty()) doc["variant"] = config.platform.variant;
  doc["created"] = config.created;
  doc["config"] = c;
  doc["rootfs"]["type"] = "layers";
  doc["rootfs"]["diff_ids"] = json::array();
  doc["history"] = json::array();
  for (size_t i = 0; i < layers.size(); ++i) {
    doc["rootfs"]["diff_ids"].push_back(layers[i].diff_id);
    doc["history"].push_back(
        {{"created", config.created}, {"created_by", "crisp-test layer " + std::to_string(i)}});
  }
  return doc.dump();
}

std::string build_manifest_json(ManifestFormat format, const Blob& config,
                                const std::vector<Layer>& layers) {
  using nlohmann::json;
  json doc;
  doc["schemaVersion"] = 2;
  doc["mediaType"] = format == ManifestFormat::kOci ? media_type::kOciManifest
                                                    : media_type::kDockerManifest;
  doc["config"] = {{"mediaType", config.media_type}, {"digest", config.digest},
                   {"size", config.size()}};
  doc["layers"] = json::array();
  for (const auto& layer : layers) {
    doc["layers"].push_back({{"mediaType", layer_media_type(layer.compression, format)},
                             {"digest", layer.digest},
                             {"size", layer.size}});
  }
  return doc.dump();
}

Image build_image(const ImageConfig& config, std::vector<Layer> layers, ManifestFormat format) {
  Image image;
  image.format = format;
  image.platform = config.platform;
  image.config.bytes = build_config_json(config, layers);
  image.config.digest = sha256_digest(image.config.bytes);
  image.config.media_type =
      format == ManifestFormat::kOci ? media_type::kOciConfig : media_type::kDockerConfig;
  image.manifest.bytes = build_manifest_json(format, image.config, layers);
  image.manifest.digest = sha256_digest(image.manifest.bytes);
  image.manifest.media_type =
      format == ManifestFormat::kOci ? media_type::kOciManifest : media_type::kDockerManifest;
  image.layers = std::move(layers);
  return image;
}

Index build_index(std::vector<Image> images, ManifestFormat format) {
  using nlohmann::json;
  Index index;
  index.format = format;
  json doc;
  doc["schemaVersion"] = 2;
  doc["mediaType"] =
      format == ManifestFormat::kOci ? media_type::kOciIndex : media_type::kDockerManifestList;
  doc["manifests"] = json::array();
  for (const auto& image : images) {
    json platform = {{"architecture", image.platform.architecture}, {"os", image.platform.os}};
    if (!image.platform.variant.empty()) platform["variant"] = image.platform.variant;
    doc["manifests"].push_back({{"mediaType", image.manifest.media_type},
                                {"digest", image.manifest.digest},
                                {"size", image.manifest.size()},
                                {"platform", platform}});
  }
  index.manifest.bytes = doc.dump();
  index.manifest.digest = sha256_digest(index.manifest.bytes);
  index.manifest.media_type = doc["mediaType"];
  index.images = std::move(images);
  return index;
}

std::vector<TarEntry> read_tar(const std::string& bytes) {
  ReadArchive a(archive_read_new());
  check(a.get(), archive_read_support_filter_all(a.get()), "read filter");
  check(a.get(), archive_read_support_format_tar(a.get()), "read format");
  check(a.get(), archive_read_open_memory(a.get(), bytes.data(), bytes.size()), "read open");
  std::vector<TarEntry> entries;
  archive_entry* e = nullptr;
  for (;;) {
    int rc = archive_read_next_header(a.get(), &e);
    if (rc == ARCHIVE_EOF) break;
    check(a.get(), rc, "read header");
    TarEntry te;
    te.name = archive_entry_pathname(e);
    // libarchive writes directories as "name/"; report them as written by dir("name").
    if (archive_entry_filetype(e) == AE_IFDIR && te.name.size() > 1 && te.name.back() == '/') {
      te.name.pop_back();
    }
    te.mode = archive_entry_perm(e);
    te.uid = static_cast<uint32_t>(archive_entry_uid(e));
    te.gid = static_cast<uint32_t>(archive_entry_gid(e));
    te.mtime = archive_entry_mtime(e);
    if (const char* hard = archive_entry_hardlink(e)) {
      te.type = TarEntry::Type::kHardlink;
      te.link_target = hard;
    } else {
      switch (archive_entry_filetype(e)) {
        case AE_IFDIR:
          te.type = TarEntry::Type::kDir;
          break;
        case AE_IFLNK:
          te.type = TarEntry::Type::kSymlink;
          te.link_target = archive_entry_symlink(e) ? archive_entry_symlink(e) : "";
          break;
        case AE_IFCHR:
          te.type = TarEntry::Type::kCharDevice;
          break;
        case AE_IFBLK:
          te.type = TarEntry::Type::kBlockDevice;
          break;
        case AE_IFIFO:
          te.type = TarEntry::Type::kFifo;
          break;
        default:
          te.type = TarEntry::Type::kFile;
          break;
      }
      te.dev_major = archive_entry_rdevmajor(e);
      te.dev_minor = archive_entry_rdevminor(e);
    }
    if (te.type == TarEntry::Type::kFile) {
      char buffer[65536];
      for (;;) {
        la_ssize_t n = archive_read_data(a.get(), buffer, sizeof buffer);
        if (n < 0) check(a.get(), ARCHIVE_FATAL, "read data " + te.name);
        if (n == 0) break;
        te.content.append(buffer, static_cast<size_t>(n));
      }
    }
    archive_entry_xattr_reset(e);
    const char* xname = nullptr;
    const void* xvalue = nullptr;
    size_t xsize = 0;
    while (archive_entry_xattr_next(e, &xname, &xvalue, &xsize) == ARCHIVE_OK) {
      te.xattrs[xname] = std::string(static_cast<const char*>(xvalue), xsize);
    }
    entries.push_back(std::move(te));
  }
  return entries;
}

}  // namespace crisp::test
