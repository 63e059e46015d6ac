// read_archive: one pass over an image archive's tar stream; blobs go to the sink as they stream
// by, small metadata files stay in memory.
#include <archive.h>
#include <archive_entry.h>

#include <exception>
#include <memory>
#include <vector>

#include "image/archive/image_archive.h"
#include "image/reference.h"
#include "runtime/base/error.h"

namespace crisp::image::archive {

namespace {

constexpr size_t kReadBufferBytes = 1 << 20;
constexpr int kMaxLinkDepth = 16;

struct ArchiveReadDeleter {
  void operator()(struct archive* a) const { archive_read_free(a); }
};

struct Source {
  const ByteReader* reader = nullptr;
  std::vector<char> buffer = std::vector<char>(kReadBufferBytes);
  std::exception_ptr error;  // thrown by the caller's reader; re-thrown instead of libarchive's message
};

la_ssize_t read_source(struct archive* a, void* opaque, const void** out) {
  auto* source = static_cast<Source*>(opaque);
  try {
    size_t n = (*source->reader)(source->buffer.data(), source->buffer.size());
    *out = source->buffer.data();
    return static_cast<la_ssize_t>(std::min(n, source->buffer.size()));
  } catch (...) {
    source->error = std::current_exception();
    archive_set_error(a, EIO, "reading the archive failed");
    return -1;
  }
}

[[noreturn]] void fail(struct archive* a, const Source& source, const std::string& what) {
  if (source.error) std::rethrow_exception(source.error);
  const char* message = archive_error_string(a);
  throw Error(ErrorKind::kInvalidArgument, "image archive: " + what + ": " + (message ? message : "corrupt tar stream"));
}

std::vector<std::string> split_path(std::string_view path) {
  std::vector<std::string> parts;
  size_t start = 0;
  while (start <= path.size()) {
    size_t end = path.find('/', start);
    if (end == std::string_view::npos) end = path.size();
    parts.emplace_back(path.substr(start, end - start));
    start = end + 1;
  }
  return parts;
}

std::string join(const std::vector<std::string>& parts) {
  std::string out;
  for (const auto& p : parts) {
    if (!out.empty()) out += '/';
    out += p;
  }
  return out;
}

bool ends_with(const std::string& s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// The target of a symlink at `link` (relative to the link's directory), as an archive path.
std::string link_target_path(const std::string& link, std::string_view target) {
  if (target.empty()) throw Error(ErrorKind::kInvalidArgument, "image archive: link \"" + link + "\" has no target");
  std::vector<std::string> out;
  if (target.front() != '/') {
    out = split_path(link);
    out.pop_back();  // the link's own name
  }
  for (const auto& part : split_path(target)) {
    if (part.empty() || part == ".") continue;
    if (part == "..") {
      if (out.empty()) {
        throw Error(ErrorKind::kInvalidArgument,
                    "image archive: link \"" + link + "\" points outside the archive (\"" + std::string(target) + "\")");
      }
      out.pop_back();
      continue;
    }
    out.push_back(part);
  }
  return join(out);
}

}  // namespace

std::string clean_entry_path(std::string_view name) {
  if (name.find('\0') != std::string_view::npos) {
    throw Error(ErrorKind::kInvalidArgument, "image archive: an entry name holds a NUL byte");
  }
  if (name.empty()) throw Error(ErrorKind::kInvalidArgument, "image archive: an entry has an empty name");
  if (name.front() == '/') {
    throw Error(ErrorKind::kInvalidArgument, "image archive: entry \"" + std::string(name) + "\" has an absolute path");
  }
  std::vector<std::string> out;
  for (const auto& part : split_path(name)) {
    if (part.empty() || part == ".") continue;
    if (part == "..") {
      throw Error(ErrorKind::kInvalidArgument,
                  "image archive: entry \"" + std::string(name) + "\" has a \"..\" path component");
    }
    out.push_back(part);
  }
  return join(out);
}

std::string ArchiveContents::resolve(const std::string& path) const {
  std::string p = path;
  for (int depth = 0; depth < kMaxLinkDepth; ++depth) {
    auto it = links.find(p);
    if (it == links.end()) return p;
    p = it->second;
  }
  throw Error(ErrorKind::kInvalidArgument, "image archive: too many levels of links at \"" + path + "\"");
}

std::optional<std::string> ArchiveContents::digest_of(const std::string& path) const {
  auto it = blobs.find(resolve(path));
  if (it == blobs.end()) return std::nullopt;
  return it->second;
}

const std::string* ArchiveContents::file(const std::string& path) const {
  auto it = files.find(resolve(path));
  return it == files.end() ? nullptr : &it->second;
}

ArchiveContents read_archive(const ByteReader& reader, BlobSink& sink, const ArchiveLimits& limits) {
  std::unique_ptr<struct archive, ArchiveReadDeleter> owner(archive_read_new());
  struct archive* a = owner.get();
  if (!a) throw Error(ErrorKind::kResourceExhausted, "image archive: out of memory");
  archive_read_support_filter_all(a);
  archive_read_support_format_tar(a);
  Source source;
  source.reader = &reader;
  if (archive_read_open(a, &source, nullptr, read_source, nullptr) != ARCHIVE_OK) fail(a, source, "not a tar archive");

  ArchiveContents contents;
  uint64_t entries = 0;
  uint64_t metadata_bytes = 0;
  for (;;) {
    struct archive_entry* entry = nullptr;
    int r = archive_read_next_header(a, &entry);
    if (r == ARCHIVE_EOF) break;
    if (r < ARCHIVE_WARN) fail(a, source, entries == 0 ? "not a tar archive" : "corrupt or truncated tar stream");
    if (++entries > limits.max_entries) {
      throw Error(ErrorKind::kInvalidArgument,
                  "image archive: more than " + std::to_string(limits.max_entries) + " entries");
    }
    const char* raw_name = archive_entry_pathname(entry);
    if (!raw_name) throw Error(ErrorKind::kInvalidArgument, "image archive: an entry has no name");
    const std::string path = clean_entry_path(raw_name);
    const mode_t type = archive_entry_filetype(entry);

    if (const char* hardlink = archive_entry_hardlink(entry)) {
      std::string target = clean_entry_path(hardlink);
      if (!path.empty() && !target.empty()) contents.links[path] = target;
      continue;
    }
    if (type == AE_IFDIR) continue;
    if (type == AE_IFLNK) {
      const char* target = archive_entry_symlink(entry);
      if (path.empty()) throw Error(ErrorKind::kInvalidArgument, "image archive: a link has an empty name");
      contents.links[path] = link_target_path(path, target ? target : "");
      continue;
    }
    if (type != AE_IFREG) continue;  // devices and fifos are part of no image layout
    if (path.empty()) throw Error(ErrorKind::kInvalidArgument, "image archive: a file entry has an empty name");
    la_int64_t declared = archive_entry_size(entry);
    if (declared < 0) {
      throw Error(ErrorKind::kInvalidArgument, "image archive: entry \"" + path + "\" has a negative size");
    }
    const uint64_t size = static_cast<uint64_t>(declared);
    if (size > limits.max_entry_bytes) {
      throw Error(ErrorKind::kInvalidArgument, "image archive: entry \"" + path + "\" is " + std::to_string(size) +
                                                   " bytes, over the limit of " +
                                                   std::to_string(limits.max_entry_bytes));
    }
    ByteReader data = [&](char* buf, size_t cap) -> size_t {
      la_ssize_t n = archive_read_data(a, buf, cap);
      if (n < 0) fail(a, source, "reading entry \"" + path + "\"");
      return static_cast<size_t>(n);
    };

    if (path.rfind("blobs/", 0) == 0) {
      std::vector<std::string> parts = split_path(path);
      if (parts.size() != 3) {
        throw Error(ErrorKind::kInvalidArgument, "image archive: unexpected entry \"" + path + "\" below blobs/");
      }
      if (parts[1] != "sha256") {
        throw Error(ErrorKind::kInvalidArgument, "image archive: blob \"" + path + "\" uses the unsupported digest "
                                                 "algorithm \"" + parts[1] + "\" (sha256 only)");
      }
      std::string digest = "sha256:" + parts[2];
      if (!is_sha256_digest(digest)) {
        throw Error(ErrorKind::kInvalidArgument, "image archive: blob \"" + path + "\" is not named by a sha256 digest");
      }
      sink.put(digest, size, data);
      contents.blobs[path] = digest;
    } else if (size <= limits.max_metadata_bytes && !ends_with(path, "layer.tar")) {
      metadata_bytes += size;
      if (metadata_bytes > limits.max_metadata_total) {
        throw Error(ErrorKind::kInvalidArgument, "image archive: more than " +
                                                     std::to_string(limits.max_metadata_total) +
                                                     " bytes of metadata files");
      }
      std::string bytes(size, '\0');
      size_t got = 0;
      while (got < size) {
        size_t n = data(bytes.data() + got, size - got);
        if (n == 0) break;
        got += n;
      }
      if (got != size) {
        throw Error(ErrorKind::kInvalidArgument, "image archive: entry \"" + path + "\" is truncated");
      }
      contents.files[path] = std::move(bytes);
      contents.blobs.erase(path);
    } else {
      contents.blobs[path] = sink.put_unnamed(size, data);
      contents.files.erase(path);
    }
  }
  if (source.error) std::rethrow_exception(source.error);
  return contents;
}

}  // namespace crisp::image::archive
