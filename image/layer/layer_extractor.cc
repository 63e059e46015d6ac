#include "image/layer/layer_extractor.h"

#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "image/layer/rooted_path.h"
#include "runtime/base/error.h"

namespace crisp::layer {

namespace {

constexpr const char kWhiteoutPrefix[] = ".wh.";
constexpr const char kWhiteoutMetaPrefix[] = ".wh..wh.";
constexpr const char kOpaqueWhiteout[] = ".wh..wh..opq";
constexpr const char kOverlayXattrPrefix[] = "trusted.overlay.";

[[noreturn]] void refuse(const std::string& entry, const std::string& why) {
  throw Error(ErrorKind::kInvalidArgument, "layer entry \"" + entry + "\": " + why);
}

bool starts_with(const std::string& s, const char* prefix) {
  return s.compare(0, std::strlen(prefix), prefix) == 0;
}

void entry_times(struct archive_entry* entry, struct timespec times[2]) {
  times[1].tv_sec = archive_entry_mtime(entry);
  times[1].tv_nsec = archive_entry_mtime_nsec(entry);
  if (archive_entry_atime_is_set(entry)) {
    times[0].tv_sec = archive_entry_atime(entry);
    times[0].tv_nsec = archive_entry_atime_nsec(entry);
  } else {
    times[0] = times[1];
  }
}

void write_all(int fd, const char* data, size_t size, const std::string& name) {
  while (size > 0) {
    ssize_t n = ::write(fd, data, size);
    if (n < 0) {
      if (errno == EINTR) continue;
      throw_errno("write layer entry " + name);
    }
    data += n;
    size -= static_cast<size_t>(n);
  }
}

}  // namespace

LayerExtractor::LayerExtractor(int root_fd, const LayerApplyOptions& options)
    : root_fd_(root_fd), options_(options), privileged_(::geteuid() == 0) {}

int LayerExtractor::parent_fd(const std::vector<std::string>& components,
                              const std::string& entry) {
  std::string key = "/" + join_components(components, components.size() - 1);
  if (key != cached_parent_path_) {
    cached_parent_path_.clear();
    cached_parent_ = open_or_create_dirs(root_fd_, components, components.size() - 1, entry);
    cached_parent_path_ = std::move(key);
  }
  return cached_parent_.get();
}

void LayerExtractor::write_entry(struct archive* tar, struct archive_entry* entry) {
  if (++entries_ > options_.max_entries)
    throw Error(ErrorKind::kResourceExhausted,
                "layer has more than " + std::to_string(options_.max_entries) + " entries");
  const char* raw_name = archive_entry_pathname(entry);
  if (!raw_name) raw_name = archive_entry_pathname_utf8(entry);
  if (!raw_name) throw Error(ErrorKind::kInvalidArgument, "layer entry without a name");
  const std::string name(raw_name);
  std::vector<std::string> components = split_entry_path(name);
  const mode_t type = archive_entry_filetype(entry);
  const char* hardlink = archive_entry_hardlink(entry);

  if (components.empty()) {  // "./": the layer root itself
    if (hardlink || type != AE_IFDIR) refuse(name, "the layer root must be a directory");
    UniqueFd root = open_in_root(root_fd_, "", O_RDONLY | O_DIRECTORY);
    if (!root) throw_errno("open layer root");
    set_owner_fd(root.get(), entry, name);
    set_xattrs_fd(root.get(), entry, name);
    defer_directory("", entry);
    return;
  }

  const std::string& leaf = components.back();
  const int parent = parent_fd(components, name);
  if (starts_with(leaf, kWhiteoutPrefix)) {
    write_whiteout(parent, leaf, entry, components, name);
    return;
  }
  if (hardlink) {
    write_hardlink(parent, leaf, hardlink, name);
    return;
  }
  switch (type) {
    case AE_IFREG:
      write_regular(parent, leaf, tar, entry, name);
      break;
    case AE_IFDIR:
      write_directory(parent, leaf, entry, join_components(components, components.size()), name);
      break;
    case AE_IFLNK:
      write_symlink(parent, leaf, entry, name);
      break;
    case AE_IFCHR:
    case AE_IFBLK:
    case AE_IFIFO:
      write_node(parent, leaf, entry, name);
      break;
    default:
      break;  // sockets and unknown types are not part of a filesystem image
  }
}

void LayerExtractor::write_whiteout(int parent, const std::string& leaf,
                                    struct archive_entry* entry,
                                    const std::vector<std::string>& components,
                                    const std::string& name) {
  if (leaf == kOpaqueWhiteout) {
    UniqueFd dir = open_in_root(root_fd_, join_components(components, components.size() - 1),
                                O_RDONLY | O_DIRECTORY);
    if (!dir) throw_errno("open directory of layer entry " + name);
    if (::fsetxattr(dir.get(), "trusted.overlay.opaque", "y", 1, 0) != 0)
      throw_errno(errno == EPERM ? ErrorKind::kPermissionDenied : ErrorKind::kInternal, errno,
                  "mark directory opaque for layer entry " + name);
    return;
  }
  if (starts_with(leaf, kWhiteoutMetaPrefix)) return;  // e.g. .wh..wh.plnk (aufs hardlinks)
  const std::string hidden = leaf.substr(std::strlen(kWhiteoutPrefix));
  if (hidden.empty() || hidden == "." || hidden == "..") refuse(name, "invalid whiteout");
  forget_parents();
  remove_at(parent, hidden);
  if (::mknodat(parent, hidden.c_str(), S_IFCHR | 0, ::makedev(0, 0)) != 0)
    throw_errno(errno == EPERM ? ErrorKind::kPermissionDenied : ErrorKind::kInternal, errno,
                "create whiteout for layer entry " + name);
  if (::fchownat(parent, hidden.c_str(), static_cast<uid_t>(archive_entry_uid(entry)),
                 static_cast<gid_t>(archive_entry_gid(entry)), AT_SYMLINK_NOFOLLOW) != 0 &&
      privileged_)
    throw_errno("chown whiteout for layer entry " + name);
}

void LayerExtractor::write_hardlink(int parent, const std::string& leaf, const char* target,
                                    const std::string& name) {
  std::vector<std::string> target_components;
  try {
    target_components = split_entry_path(target);
  } catch (const Error& e) {
    refuse(name, std::string("hardlink target: ") + e.what());
  }
  if (target_components.empty()) refuse(name, "hardlink to the layer root");
  UniqueFd target_parent =
      open_in_root(root_fd_, join_components(target_components, target_components.size() - 1),
                   O_PATH | O_DIRECTORY);
  if (!target_parent) refuse(name, std::string("hardlink target \"") + target + "\" not found");
  const std::string& target_leaf = target_components.back();
  struct stat target_st;
  if (::fstatat(target_parent.get(), target_leaf.c_str(), &target_st, AT_SYMLINK_NOFOLLOW) != 0)
    refuse(name, std::string("hardlink target \"") + target + "\" not found");
  if (S_ISDIR(target_st.st_mode)) refuse(name, "hardlink to a directory");
  struct stat existing;
  if (::fstatat(parent, leaf.c_str(), &existing, AT_SYMLINK_NOFOLLOW) == 0) {
    if (existing.st_dev == target_st.st_dev && existing.st_ino == target_st.st_ino) return;
    if (S_ISDIR(existing.st_mode)) forget_parents();
    remove_at(parent, leaf);
  }
  if (::linkat(target_parent.get(), target_leaf.c_str(), parent, leaf.c_str(), 0) != 0)
    throw_errno("hardlink layer entry " + name);
}

void LayerExtractor::write_regular(int parent, const std::string& leaf, struct archive* tar,
                                   struct archive_entry* entry, const std::string& name) {
  const la_int64_t size = archive_entry_size(entry);
  if (size < 0 || static_cast<uint64_t>(size) > options_.max_entry_bytes)
    throw Error(ErrorKind::kResourceExhausted, "layer entry \"" + name + "\": file size " +
                                                   std::to_string(size) + " exceeds the limit of " +
                                                   std::to_string(options_.max_entry_bytes));
  UniqueFd fd = open_in_root(parent, leaf, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW, 0600);
  if (!fd && errno == EEXIST) {
    struct stat existing;
    if (::fstatat(parent, leaf.c_str(), &existing, AT_SYMLINK_NOFOLLOW) == 0 &&
        S_ISDIR(existing.st_mode))
      forget_parents();
    remove_at(parent, leaf);
    fd = open_in_root(parent, leaf, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW, 0600);
  }
  if (!fd) throw_errno("create layer entry " + name);

  la_int64_t position = 0;
  for (;;) {
    const void* block;
    size_t block_size;
    la_int64_t offset;
    int r = archive_read_data_block(tar, &block, &block_size, &offset);
    if (r == ARCHIVE_EOF) break;
    if (r < ARCHIVE_WARN)
      throw Error(ErrorKind::kInvalidArgument,
                  "layer entry \"" + name + "\": " +
                      (archive_error_string(tar) ? archive_error_string(tar) : "read error"));
    if (block_size == 0) continue;
    if (offset + static_cast<la_int64_t>(block_size) > size)
      refuse(name, "data beyond the file size");
    if (offset != position) {  // sparse file: skip the hole
      if (::lseek(fd.get(), offset, SEEK_SET) < 0) throw_errno("seek layer entry " + name);
    }
    write_all(fd.get(), static_cast<const char*>(block), block_size, name);
    position = offset + static_cast<la_int64_t>(block_size);
  }
  if (position != size && ::ftruncate(fd.get(), size) != 0)
    throw_errno("truncate layer entry " + name);

  set_owner_fd(fd.get(), entry, name);
  if (::fchmod(fd.get(), archive_entry_perm(entry)) != 0) throw_errno("chmod " + name);
  set_xattrs_fd(fd.get(), entry, name);
  struct timespec times[2];
  entry_times(entry, times);
  if (::futimens(fd.get(), times) != 0) throw_errno("set times of " + name);
}

void LayerExtractor::write_directory(int parent, const std::string& leaf,
                                     struct archive_entry* entry, const std::string& relative,
                                     const std::string& name) {
  if (::mkdirat(parent, leaf.c_str(), 0700) != 0) {
    if (errno != EEXIST) throw_errno("mkdir layer entry " + name);
    struct stat existing;
    if (::fstatat(parent, leaf.c_str(), &existing, AT_SYMLINK_NOFOLLOW) != 0)
      throw_errno("stat layer entry " + name);
    if (!S_ISDIR(existing.st_mode)) {
      remove_at(parent, leaf);
      if (::mkdirat(parent, leaf.c_str(), 0700) != 0) throw_errno("mkdir layer entry " + name);
    }
  }
  UniqueFd dir = open_in_root(parent, leaf, O_RDONLY | O_DIRECTORY);
  if (!dir) throw_errno("open layer entry " + name);
  set_owner_fd(dir.get(), entry, name);
  set_xattrs_fd(dir.get(), entry, name);
  defer_directory(relative, entry);
}

void LayerExtractor::write_symlink(int parent, const std::string& leaf, struct archive_entry* entry,
                                   const std::string& name) {
  const char* target = archive_entry_symlink(entry);
  if (!target) target = archive_entry_symlink_utf8(entry);
  if (!target || !*target) refuse(name, "symlink without a target");
  if (::symlinkat(target, parent, leaf.c_str()) != 0) {
    if (errno != EEXIST) throw_errno("symlink layer entry " + name);
    struct stat existing;
    if (::fstatat(parent, leaf.c_str(), &existing, AT_SYMLINK_NOFOLLOW) == 0 &&
        S_ISDIR(existing.st_mode))
      forget_parents();
    remove_at(parent, leaf);
    if (::symlinkat(target, parent, leaf.c_str()) != 0) throw_errno("symlink layer entry " + name);
  }
  if (::fchownat(parent, leaf.c_str(), static_cast<uid_t>(archive_entry_uid(entry)),
                 static_cast<gid_t>(archive_entry_gid(entry)), AT_SYMLINK_NOFOLLOW) != 0 &&
      privileged_)
    throw_errno("chown " + name);
  struct timespec times[2];
  entry_times(entry, times);
  if (::utimensat(parent, leaf.c_str(), times, AT_SYMLINK_NOFOLLOW) != 0)
    throw_errno("set times of " + name);
}

void LayerExtractor::write_node(int parent, const std::string& leaf, struct archive_entry* entry,
                                const std::string& name) {
  const mode_t type = archive_entry_filetype(entry);
  const dev_t dev = type == AE_IFIFO ? 0 : archive_entry_rdev(entry);
  const mode_t mode = (type == AE_IFCHR ? S_IFCHR : type == AE_IFBLK ? S_IFBLK : S_IFIFO) | 0600;
  if (::mknodat(parent, leaf.c_str(), mode, dev) != 0) {
    if (errno != EEXIST)
      throw_errno(errno == EPERM ? ErrorKind::kPermissionDenied : ErrorKind::kInternal, errno,
                  "mknod layer entry " + name);
    struct stat existing;
    if (::fstatat(parent, leaf.c_str(), &existing, AT_SYMLINK_NOFOLLOW) == 0 &&
        S_ISDIR(existing.st_mode))
      forget_parents();
    remove_at(parent, leaf);
    if (::mknodat(parent, leaf.c_str(), mode, dev) != 0) throw_errno("mknod layer entry " + name);
  }
  // An O_PATH descriptor never opens the device or blocks on the fifo.
  UniqueFd node = open_in_root(parent, leaf, O_PATH | O_NOFOLLOW);
  if (!node) throw_errno("open layer entry " + name);
  if (::fchownat(node.get(), "", static_cast<uid_t>(archive_entry_uid(entry)),
                 static_cast<gid_t>(archive_entry_gid(entry)),
                 AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW) != 0 &&
      privileged_)
    throw_errno("chown " + name);
  if (::fchmodat(parent, leaf.c_str(), archive_entry_perm(entry), 0) != 0)
    throw_errno("chmod " + name);
  struct timespec times[2];
  entry_times(entry, times);
  if (::utimensat(parent, leaf.c_str(), times, AT_SYMLINK_NOFOLLOW) != 0)
    throw_errno("set times of " + name);
}

void LayerExtractor::set_owner_fd(int fd, struct archive_entry* entry, const std::string& name) {
  if (::fchown(fd, static_cast<uid_t>(archive_entry_uid(entry)),
               static_cast<gid_t>(archive_entry_gid(entry))) != 0 &&
      privileged_)
    throw_errno("chown " + name);
}

void LayerExtractor::set_xattrs_fd(int fd, struct archive_entry* entry, const std::string& name) {
  if (archive_entry_xattr_reset(entry) == 0) return;
  const char* key;
  const void* value;
  size_t size;
  while (archive_entry_xattr_next(entry, &key, &value, &size) == ARCHIVE_OK) {
    if (!key || starts_with(key, kOverlayXattrPrefix))
      continue;  // overlay's own, never from a layer
    if (::fsetxattr(fd, key, value, size, 0) == 0) continue;
    if (errno == ENOTSUP || (errno == EPERM && !privileged_)) continue;
    throw_errno(std::string("set xattr ") + key + " on " + name);
  }
}

void LayerExtractor::defer_directory(const std::string& relative, struct archive_entry* entry) {
  DirMetadata meta;
  meta.mode = archive_entry_perm(entry);
  entry_times(entry, meta.times);
  deferred_dirs_[relative] = meta;
}

void LayerExtractor::finish() {
  forget_parents();
  // Deepest first, so a directory's times are set after everything below it was written.
  for (auto it = deferred_dirs_.rbegin(); it != deferred_dirs_.rend(); ++it) {
    UniqueFd dir = open_in_root(root_fd_, it->first, O_RDONLY | O_DIRECTORY);
    if (!dir) continue;  // replaced by a later entry
    if (::fchmod(dir.get(), it->second.mode) != 0) throw_errno("chmod " + it->first);
    if (::futimens(dir.get(), it->second.times) != 0) throw_errno("set times of " + it->first);
  }
  deferred_dirs_.clear();
}

}  // namespace crisp::layer
