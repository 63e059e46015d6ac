#include "image/layer/rooted_path.h"

#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/openat2.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "runtime/base/error.h"

namespace crisp::layer {

namespace {

constexpr unsigned kRootedResolve =
    RESOLVE_IN_ROOT | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS | RESOLVE_NO_XDEV;

[[noreturn]] void refuse(const std::string& entry, const std::string& why) {
  throw Error(ErrorKind::kInvalidArgument, "layer entry \"" + entry + "\": " + why);
}

}  // namespace

std::vector<std::string> split_entry_path(std::string_view name) {
  const std::string entry(name);
  if (name.size() > PATH_MAX) refuse(entry.substr(0, 64) + "...", "path too long");
  std::vector<std::string> components;
  size_t pos = 0;
  while (pos <= name.size()) {
    size_t slash = name.find('/', pos);
    if (slash == std::string_view::npos) slash = name.size();
    std::string_view part = name.substr(pos, slash - pos);
    pos = slash + 1;
    if (part.empty() || part == ".") continue;
    if (part == "..") refuse(entry, "path contains \"..\"");
    if (part.size() > NAME_MAX) refuse(entry, "path component too long");
    components.emplace_back(part);
  }
  return components;
}

std::string join_components(const std::vector<std::string>& components, size_t count) {
  std::string out;
  for (size_t i = 0; i < count && i < components.size(); ++i) {
    if (i) out += '/';
    out += components[i];
  }
  return out;
}

UniqueFd open_in_root(int root_fd, const std::string& relative, int flags, unsigned mode) {
  struct open_how how {};
  how.flags = static_cast<uint64_t>(flags | O_CLOEXEC);
  how.mode = (flags & O_CREAT) ? mode : 0;
  how.resolve = kRootedResolve;
  const char* path = relative.empty() ? "." : relative.c_str();
  for (;;) {
    long fd = ::syscall(SYS_openat2, root_fd, path, &how, sizeof how);
    if (fd >= 0) return UniqueFd(static_cast<int>(fd));
    if (errno != EINTR && errno != EAGAIN) return UniqueFd();
  }
}

UniqueFd open_or_create_dirs(int root_fd, const std::vector<std::string>& components, size_t count,
                             const std::string& entry) {
  // Fast path: the whole parent already exists.
  UniqueFd dir = open_in_root(root_fd, join_components(components, count), O_PATH | O_DIRECTORY);
  if (dir) return dir;
  if (errno == ELOOP || errno == ENOTDIR || errno == EXDEV)
    refuse(entry, "parent directory is a symlink or not a directory");
  if (errno != ENOENT) throw_errno("open parent of layer entry " + entry);

  dir = open_in_root(root_fd, "", O_PATH | O_DIRECTORY);
  if (!dir) throw_errno("open layer root");
  for (size_t i = 0; i < count; ++i) {
    const std::string& name = components[i];
    UniqueFd next = open_in_root(dir.get(), name, O_PATH | O_DIRECTORY);
    if (!next && errno == ENOENT) {
      if (::mkdirat(dir.get(), name.c_str(), 0755) != 0 && errno != EEXIST)
        throw_errno("mkdir for layer entry " + entry);
      next = open_in_root(dir.get(), name, O_PATH | O_DIRECTORY);
    }
    if (!next) {
      if (errno == ELOOP || errno == ENOTDIR || errno == EXDEV)
        refuse(entry, "parent \"" + join_components(components, i + 1) +
                          "\" is a symlink or not a directory");
      throw_errno("open parent of layer entry " + entry);
    }
    dir = std::move(next);
  }
  return dir;
}

namespace {

void remove_dir_contents(int dir_fd, dev_t dev) {
  int dup_fd = ::openat(dir_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dup_fd < 0) throw_errno("open directory for removal");
  DIR* dir = ::fdopendir(dup_fd);
  if (!dir) {
    ::close(dup_fd);
    throw_errno("fdopendir for removal");
  }
  std::vector<std::string> names;
  while (struct dirent* ent = ::readdir(dir)) {
    if (std::strcmp(ent->d_name, ".") == 0 || std::strcmp(ent->d_name, "..") == 0) continue;
    names.emplace_back(ent->d_name);
  }
  ::closedir(dir);
  for (const auto& name : names) {
    struct stat st;
    if (::fstatat(dir_fd, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) continue;
    if (S_ISDIR(st.st_mode)) {
      if (st.st_dev != dev)
        throw Error(ErrorKind::kFailedPrecondition, "refusing to remove mount point " + name);
      UniqueFd child(
          ::openat(dir_fd, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
      if (!child) throw_errno("open " + name + " for removal");
      remove_dir_contents(child.get(), dev);
      if (::unlinkat(dir_fd, name.c_str(), AT_REMOVEDIR) != 0 && errno != ENOENT)
        throw_errno("rmdir " + name);
    } else if (::unlinkat(dir_fd, name.c_str(), 0) != 0 && errno != ENOENT) {
      throw_errno("unlink " + name);
    }
  }
}

}  // namespace

void remove_at(int dir_fd, const std::string& name) {
  struct stat st;
  if (::fstatat(dir_fd, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
    if (errno == ENOENT) return;
    throw_errno("stat " + name);
  }
  if (!S_ISDIR(st.st_mode)) {
    if (::unlinkat(dir_fd, name.c_str(), 0) != 0 && errno != ENOENT) throw_errno("unlink " + name);
    return;
  }
  UniqueFd child(::openat(dir_fd, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  if (!child) throw_errno("open " + name + " for removal");
  // A directory we cannot list (mode 0) is still removable by its owner after a chmod.
  remove_dir_contents(child.get(), st.st_dev);
  if (::unlinkat(dir_fd, name.c_str(), AT_REMOVEDIR) != 0 && errno != ENOENT)
    throw_errno("rmdir " + name);
}

}  // namespace crisp::layer
