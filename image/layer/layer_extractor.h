#pragma once
// Writes the entries of a layer's tar stream below a layer root directory, one entry at a time,
// turning OCI whiteouts into overlayfs whiteouts. Internal to image/layer (see layer_apply.h).
#include <sys/types.h>

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "image/layer/layer_apply.h"
#include "runtime/base/unique_fd.h"

struct archive;
struct archive_entry;

namespace crisp::layer {

class LayerExtractor {
 public:
  LayerExtractor(int root_fd, const LayerApplyOptions& options);

  // Writes one entry; a regular file's data is read from `tar`.
  void write_entry(struct archive* tar, struct archive_entry* entry);
  // Applies the deferred directory modes and times (after all children were written).
  void finish();

  uint64_t entries() const { return entries_; }

 private:
  struct DirMetadata {
    mode_t mode;
    struct timespec times[2];  // atime, mtime
  };

  int parent_fd(const std::vector<std::string>& components, const std::string& entry);
  // Invalidates the cached parent (after a directory was removed); the fd stays open until the
  // next entry because the caller may still be using it.
  void forget_parents() { cached_parent_path_.clear(); }
  void write_whiteout(int parent, const std::string& leaf, struct archive_entry* entry,
                      const std::vector<std::string>& components, const std::string& name);
  void write_hardlink(int parent, const std::string& leaf, const char* target,
                      const std::string& name);
  void write_regular(int parent, const std::string& leaf, struct archive* tar,
                     struct archive_entry* entry, const std::string& name);
  void write_directory(int parent, const std::string& leaf, struct archive_entry* entry,
                       const std::string& relative, const std::string& name);
  void write_symlink(int parent, const std::string& leaf, struct archive_entry* entry,
                     const std::string& name);
  void write_node(int parent, const std::string& leaf, struct archive_entry* entry,
                  const std::string& name);
  void set_owner_fd(int fd, struct archive_entry* entry, const std::string& name);
  void set_xattrs_fd(int fd, struct archive_entry* entry, const std::string& name);
  void defer_directory(const std::string& relative, struct archive_entry* entry);

  int root_fd_;
  LayerApplyOptions options_;
  bool privileged_;
  uint64_t entries_ = 0;
  std::string cached_parent_path_;  // components of the last parent, joined; "" = none cached
  UniqueFd cached_parent_;
  std::map<std::string, DirMetadata> deferred_dirs_;  // relative path -> mode and times
};

}  // namespace crisp::layer
