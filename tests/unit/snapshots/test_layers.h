#pragma once
// Test helpers for the snapshot tests: layer tarballs built in memory with libarchive's writer,
// a chunked reader over a string, sha256 and a self-removing temporary directory.
#include <archive.h>
#include <archive_entry.h>
#include <openssl/evp.h>
#include <stdlib.h>
#include <sys/stat.h>

#include <cstring>
#include <filesystem>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "image/layer/layer_apply.h"
#include "runtime/base/file_util.h"

namespace crisp::testing {

enum class Compression { kNone, kGzip, kZstd };

struct TarEntry {
  std::string path;
  mode_t type = AE_IFREG;  // AE_IFREG, AE_IFDIR, AE_IFLNK, AE_IFCHR, AE_IFIFO
  std::string content;     // regular file data
  std::string link;        // symlink target
  std::string hardlink;    // hardlink target (type ignored)
  mode_t mode = 0644;
  int64_t uid = 0, gid = 0;
  int64_t mtime = 1'600'000'000;
  std::vector<std::pair<std::string, std::string>> xattrs;
};

inline TarEntry file(std::string path, std::string content, mode_t mode = 0644) {
  TarEntry e;
  e.path = std::move(path);
  e.content = std::move(content);
  e.mode = mode;
  return e;
}
inline TarEntry dir(std::string path, mode_t mode = 0755) {
  TarEntry e;
  e.path = std::move(path);
  e.type = AE_IFDIR;
  e.mode = mode;
  return e;
}
inline TarEntry symlink(std::string path, std::string target) {
  TarEntry e;
  e.path = std::move(path);
  e.type = AE_IFLNK;
  e.link = std::move(target);
  e.mode = 0777;
  return e;
}
inline TarEntry hardlink(std::string path, std::string target) {
  TarEntry e;
  e.path = std::move(path);
  e.hardlink = std::move(target);
  return e;
}

// `data` compressed with gzip or zstd (libarchive's raw format writer).
inline std::string compress(const std::string& data, Compression compression) {
  if (compression == Compression::kNone) return data;
  struct archive* a = archive_write_new();
  archive_write_set_format_raw(a);
  if (compression == Compression::kGzip) archive_write_add_filter_gzip(a);
  if (compression == Compression::kZstd) archive_write_add_filter_zstd(a);
  archive_write_set_bytes_in_last_block(a, 1);
  std::string out;
  archive_write_open(
      a, &out, nullptr,
      [](struct archive*, void* opaque, const void* buf, size_t n) -> la_ssize_t {
        static_cast<std::string*>(opaque)->append(static_cast<const char*>(buf), n);
        return static_cast<la_ssize_t>(n);
      },
      nullptr);
  struct archive_entry* entry = archive_entry_new();
  archive_entry_set_filetype(entry, AE_IFREG);
  archive_entry_set_pathname(entry, "layer.tar");
  archive_entry_set_size(entry, static_cast<la_int64_t>(data.size()));
  if (archive_write_header(a, entry) != ARCHIVE_OK)
    throw std::runtime_error(std::string("compress: ") + archive_error_string(a));
  archive_write_data(a, data.data(), data.size());
  archive_entry_free(entry);
  archive_write_close(a);
  archive_write_free(a);
  return out;
}

// A pax tar of the entries (like docker/buildkit layers), optionally compressed.
inline std::string make_layer(const std::vector<TarEntry>& entries,
                              Compression compression = Compression::kNone) {
  struct archive* a = archive_write_new();
  archive_write_set_format_pax_restricted(a);
  std::string out;
  archive_write_open(
      a, &out, nullptr,
      [](struct archive*, void* opaque, const void* buf, size_t n) -> la_ssize_t {
        static_cast<std::string*>(opaque)->append(static_cast<const char*>(buf), n);
        return static_cast<la_ssize_t>(n);
      },
      nullptr);
  for (const auto& e : entries) {
    struct archive_entry* entry = archive_entry_new();
    archive_entry_set_pathname_utf8(entry, e.path.c_str());
    archive_entry_set_uid(entry, e.uid);
    archive_entry_set_gid(entry, e.gid);
    archive_entry_set_mtime(entry, e.mtime, 0);
    if (!e.hardlink.empty()) {
      archive_entry_set_filetype(entry, AE_IFREG);
      archive_entry_set_perm(entry, e.mode);
      archive_entry_set_hardlink_utf8(entry, e.hardlink.c_str());
      archive_entry_set_size(entry, 0);
    } else {
      archive_entry_set_filetype(entry, e.type);
      archive_entry_set_perm(entry, e.mode);
      if (e.type == AE_IFLNK) archive_entry_set_symlink_utf8(entry, e.link.c_str());
      archive_entry_set_size(entry,
                             e.type == AE_IFREG ? static_cast<la_int64_t>(e.content.size()) : 0);
    }
    for (const auto& [k, v] : e.xattrs)
      archive_entry_xattr_add_entry(entry, k.c_str(), v.data(), v.size());
    if (archive_write_header(a, entry) != ARCHIVE_OK)
      throw std::runtime_error(std::string("archive_write_header: ") + archive_error_string(a));
    if (e.type == AE_IFREG && e.hardlink.empty() && !e.content.empty())
      archive_write_data(a, e.content.data(), e.content.size());
    archive_entry_free(entry);
  }
  archive_write_close(a);
  archive_write_free(a);
  return compress(out, compression);
}

// Reads `data` in chunks of at most `chunk` bytes, like a network stream.
inline layer::LayerReader string_reader(const std::string& data, size_t chunk = 4096) {
  auto offset = std::make_shared<size_t>(0);
  return [&data, chunk, offset](char* buf, size_t cap) -> size_t {
    size_t n = std::min({cap, chunk, data.size() - *offset});
    std::memcpy(buf, data.data() + *offset, n);
    *offset += n;
    return n;
  };
}

inline std::string sha256_hex(const std::string& data) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int size = 0;
  EVP_Digest(data.data(), data.size(), digest, &size, EVP_sha256(), nullptr);
  static const char digits[] = "0123456789abcdef";
  std::string out = "sha256:";
  for (unsigned i = 0; i < size; ++i) {
    out += digits[digest[i] >> 4];
    out += digits[digest[i] & 0xf];
  }
  return out;
}

// mkdtemp under /tmp (or $TMPDIR); removed recursively in the destructor.
class TempDir {
 public:
  TempDir() {
    std::string pattern = std::filesystem::temp_directory_path().string() + "/crisp-snap-XXXXXX";
    if (!::mkdtemp(pattern.data())) throw std::runtime_error("mkdtemp failed");
    path_ = pattern;
  }
  ~TempDir() {
    try {
      remove_tree(path_);
    } catch (...) {
    }
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

inline std::vector<std::string> dir_entries(const std::string& path) {
  std::vector<std::string> names;
  for (const auto& e : std::filesystem::directory_iterator(path))
    names.push_back(e.path().filename().string());
  return names;
}

}  // namespace crisp::testing
