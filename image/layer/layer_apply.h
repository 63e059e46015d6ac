#pragma once
// Applying one image layer (an OCI/Docker layer blob: tar, tar+gzip or tar+zstd) to a directory.
// The blob is read as a stream, decompressed, hashed and extracted in one pass, so a caller can
// feed bytes as they arrive from the registry. OCI whiteouts become overlayfs whiteouts:
//   ".wh.<name>"    -> a 0/0 character device <name>
//   ".wh..wh..opq"  -> xattr trusted.overlay.opaque=y on the containing directory
// Every path is resolved inside the layer directory (openat2 RESOLVE_IN_ROOT); hostile entries
// (".." components, writing through a symlink, hardlinks leaving the layer or naming a directory)
// are refused with crisp::Error kInvalidArgument naming the entry.
#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>

namespace crisp::layer {

// Fills buf with up to cap bytes of the layer blob; returns 0 at the end of the blob. It may throw
// to abort the apply (the exception is re-thrown by apply_layer after cleaning up).
using LayerReader = std::function<size_t(char* buf, size_t cap)>;

struct LayerApplyOptions {
  uint64_t max_entry_bytes = uint64_t{64} << 30;   // one file's size (kResourceExhausted above)
  uint64_t max_layer_bytes = uint64_t{512} << 30;  // the uncompressed tar stream
  uint64_t max_entries = 10'000'000;               // entries in one layer
  bool sync = true;  // syncfs() the target's filesystem before apply_layer renames it into place
};

struct LayerApplyResult {
  std::string diff_id;             // "sha256:<hex>" of the uncompressed tar stream
  uint64_t uncompressed_size = 0;  // bytes of the uncompressed tar stream
  uint64_t entries = 0;            // tar entries applied
};

// Extracts into target_dir, which must not exist (kAlreadyExists otherwise): the layer is unpacked
// into a temporary sibling "<parent>/.tmp-<name>-<random>" that is renamed to target_dir only on
// success; on any failure nothing is left behind.
LayerApplyResult apply_layer(const LayerReader& reader, const std::string& target_dir,
                             const LayerApplyOptions& options = {});

// Extracts into the (empty) directory open at dir_fd. No clean-up on failure: the caller owns the
// directory (the snapshotter extracts into its own temporary directory). Does not sync.
LayerApplyResult apply_layer_at(int dir_fd, const LayerReader& reader,
                                const LayerApplyOptions& options = {});

}  // namespace crisp::layer
