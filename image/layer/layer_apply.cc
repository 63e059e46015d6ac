#include "image/layer/layer_apply.h"

#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <exception>
#include <memory>
#include <vector>

#include "image/layer/layer_extractor.h"
#include "image/layer/rooted_path.h"
#include "runtime/base/cleanup.h"
#include "runtime/base/error.h"
#include "runtime/base/file_util.h"

namespace crisp::layer {

namespace {

constexpr size_t kReadBufferBytes = 1 << 20;

struct ArchiveDeleter {
  void operator()(struct archive* a) const { archive_read_free(a); }
};
using ArchivePtr = std::unique_ptr<struct archive, ArchiveDeleter>;

struct DigestDeleter {
  void operator()(EVP_MD_CTX* ctx) const { EVP_MD_CTX_free(ctx); }
};

// The two chained readers: `compressed` (libarchive's "raw" format with the decompression
// filters) yields the uncompressed tar stream, which is hashed and counted on its way into the
// tar reader (no filter). The blob is read once, in one pass.
struct LayerStream {
  const LayerReader* reader = nullptr;
  std::vector<char> buffer;
  std::exception_ptr reader_error;  // thrown by the caller's reader; re-thrown after clean-up
  struct archive* compressed = nullptr;
  std::unique_ptr<EVP_MD_CTX, DigestDeleter> sha256{EVP_MD_CTX_new()};
  uint64_t uncompressed_size = 0;
  uint64_t max_uncompressed = 0;
  bool too_large = false;
  bool decompress_error = false;
  std::string decompress_message;
};

la_ssize_t read_blob(struct archive* a, void* opaque, const void** out) {
  auto* stream = static_cast<LayerStream*>(opaque);
  try {
    size_t n = (*stream->reader)(stream->buffer.data(), stream->buffer.size());
    if (n > stream->buffer.size()) n = stream->buffer.size();
    *out = stream->buffer.data();
    return static_cast<la_ssize_t>(n);
  } catch (...) {
    stream->reader_error = std::current_exception();
    archive_set_error(a, EIO, "layer reader failed");
    return -1;
  }
}

// Next block of the uncompressed stream, hashed; size 0 at the end. Returns false on error.
bool next_uncompressed_block(LayerStream* stream, const void** block, size_t* size) {
  for (;;) {
    la_int64_t offset;
    int r = archive_read_data_block(stream->compressed, block, size, &offset);
    if (r == ARCHIVE_EOF) {
      *size = 0;
      return true;
    }
    if (r < ARCHIVE_WARN) {
      stream->decompress_error = true;
      const char* message = archive_error_string(stream->compressed);
      stream->decompress_message = message ? message : "decompression failed";
      return false;
    }
    if (*size == 0) continue;
    stream->uncompressed_size += *size;
    if (stream->uncompressed_size > stream->max_uncompressed) {
      stream->too_large = true;
      return false;
    }
    EVP_DigestUpdate(stream->sha256.get(), *block, *size);
    return true;
  }
}

la_ssize_t read_uncompressed(struct archive* tar, void* opaque, const void** out) {
  auto* stream = static_cast<LayerStream*>(opaque);
  size_t size = 0;
  if (!next_uncompressed_block(stream, out, &size)) {
    archive_set_error(tar, EIO, "%s", "reading the layer stream failed");
    return -1;
  }
  return static_cast<la_ssize_t>(size);
}

// Turns a failure of either reader into the most precise crisp::Error.
[[noreturn]] void throw_stream_error(LayerStream& stream, struct archive* tar,
                                     const std::string& what) {
  if (stream.reader_error) std::rethrow_exception(stream.reader_error);
  if (stream.too_large)
    throw Error(ErrorKind::kResourceExhausted,
                "layer exceeds " + std::to_string(stream.max_uncompressed) + " uncompressed bytes");
  if (stream.decompress_error)
    throw Error(ErrorKind::kInvalidArgument,
                "layer blob is corrupt or truncated: " + stream.decompress_message);
  const char* message = tar ? archive_error_string(tar) : nullptr;
  throw Error(ErrorKind::kInvalidArgument,
              "layer is not a valid tar stream (" + what + "): " + (message ? message : "?"));
}

std::string hex(const unsigned char* data, size_t size) {
  static const char digits[] = "0123456789abcdef";
  std::string out;
  out.reserve(size * 2);
  for (size_t i = 0; i < size; ++i) {
    out += digits[data[i] >> 4];
    out += digits[data[i] & 0xf];
  }
  return out;
}

}  // namespace

LayerApplyResult apply_layer_at(int dir_fd, const LayerReader& reader,
                                const LayerApplyOptions& options) {
  LayerStream stream;
  stream.reader = &reader;
  stream.buffer.resize(kReadBufferBytes);
  stream.max_uncompressed = options.max_layer_bytes;
  if (!stream.sha256 || EVP_DigestInit_ex(stream.sha256.get(), EVP_sha256(), nullptr) != 1)
    throw Error(ErrorKind::kInternal, "cannot initialise sha256");

  ArchivePtr compressed(archive_read_new());
  ArchivePtr tar(archive_read_new());
  if (!compressed || !tar) throw Error(ErrorKind::kInternal, "archive_read_new failed");
  stream.compressed = compressed.get();
  // Only in-process decoders: never libarchive's fall-back to external programs.
  archive_read_support_filter_gzip(compressed.get());
  archive_read_support_filter_zstd(compressed.get());
  archive_read_support_filter_xz(compressed.get());
  archive_read_support_format_raw(compressed.get());
  archive_read_support_format_tar(tar.get());

  if (archive_read_open(compressed.get(), &stream, nullptr, read_blob, nullptr) != ARCHIVE_OK)
    throw_stream_error(stream, compressed.get(), "open");
  struct archive_entry* raw_entry;
  if (archive_read_next_header(compressed.get(), &raw_entry) != ARCHIVE_OK)
    throw_stream_error(stream, compressed.get(), "open");
  if (archive_read_open(tar.get(), &stream, nullptr, read_uncompressed, nullptr) != ARCHIVE_OK)
    throw_stream_error(stream, tar.get(), "open");

  LayerExtractor extractor(dir_fd, options);
  for (;;) {
    struct archive_entry* entry;
    int r = archive_read_next_header(tar.get(), &entry);
    if (r == ARCHIVE_EOF) break;
    if (r < ARCHIVE_WARN) throw_stream_error(stream, tar.get(), "header");
    try {
      extractor.write_entry(tar.get(), entry);
    } catch (const Error&) {
      // A data read that failed underneath the entry is reported as the stream's failure.
      if (stream.reader_error || stream.decompress_error || stream.too_large)
        throw_stream_error(stream, tar.get(), "data");
      throw;
    }
    if (stream.reader_error || stream.decompress_error || stream.too_large)
      throw_stream_error(stream, tar.get(), "data");
  }
  // The tar reader stops at the end-of-archive marker; the padding after it is part of the
  // uncompressed stream and of the diffID, and a truncated compressed stream shows up here.
  for (;;) {
    const void* block;
    size_t size;
    if (!next_uncompressed_block(&stream, &block, &size))
      throw_stream_error(stream, nullptr, "trailer");
    if (size == 0) break;
  }
  if (stream.reader_error) std::rethrow_exception(stream.reader_error);
  extractor.finish();

  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int digest_size = 0;
  EVP_DigestFinal_ex(stream.sha256.get(), digest, &digest_size);
  LayerApplyResult result;
  result.diff_id = "sha256:" + hex(digest, digest_size);
  result.uncompressed_size = stream.uncompressed_size;
  result.entries = extractor.entries();
  return result;
}

LayerApplyResult apply_layer(const LayerReader& reader, const std::string& target_dir,
                             const LayerApplyOptions& options) {
  std::string path = target_dir;
  while (path.size() > 1 && path.back() == '/') path.pop_back();
  const auto slash = path.rfind('/');
  const std::string parent = slash == std::string::npos ? "."
                             : slash == 0               ? "/"
                                                        : path.substr(0, slash);
  const std::string name = slash == std::string::npos ? path : path.substr(slash + 1);
  if (name.empty() || name == "." || name == "..")
    throw Error(ErrorKind::kInvalidArgument, "invalid layer target directory " + target_dir);

  UniqueFd parent_fd(::open(parent.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!parent_fd) throw_errno("open " + parent);
  struct stat st;
  if (::fstatat(parent_fd.get(), name.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0)
    throw Error(ErrorKind::kAlreadyExists, "layer target exists: " + target_dir);

  const std::string temp_name = ".tmp-" + name + "-" + random_hex(8);
  if (::mkdirat(parent_fd.get(), temp_name.c_str(), 0755) != 0)
    throw_errno("mkdir " + parent + "/" + temp_name);
  Cleanup remove_temp([&] { remove_at(parent_fd.get(), temp_name); });
  UniqueFd temp_fd(::openat(parent_fd.get(), temp_name.c_str(),
                            O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  if (!temp_fd) throw_errno("open " + parent + "/" + temp_name);

  LayerApplyResult result = apply_layer_at(temp_fd.get(), reader, options);
  if (options.sync && ::syncfs(temp_fd.get()) != 0) throw_errno("syncfs " + target_dir);
  if (::renameat2(parent_fd.get(), temp_name.c_str(), parent_fd.get(), name.c_str(),
                  RENAME_NOREPLACE) != 0) {
    if (errno == EEXIST)
      throw Error(ErrorKind::kAlreadyExists, "layer target exists: " + target_dir);
    throw_errno("rename layer into " + target_dir);
  }
  remove_temp.dismiss();
  ::fsync(parent_fd.get());
  return result;
}

}  // namespace crisp::layer
