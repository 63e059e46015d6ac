#include "image/snapshot/disk_usage.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <set>
#include <utility>

#include "runtime/base/error.h"
#include "runtime/base/unique_fd.h"

namespace crisp::snapshot {

namespace {

struct Walk {
  Usage usage;
  std::set<std::pair<dev_t, ino_t>> linked;  // inodes with nlink > 1 already counted
};

void count(Walk& walk, const struct stat& st) {
  if (!S_ISDIR(st.st_mode) && st.st_nlink > 1 && !walk.linked.emplace(st.st_dev, st.st_ino).second)
    return;
  walk.usage.bytes += static_cast<uint64_t>(st.st_blocks) * 512;
  walk.usage.inodes += 1;
}

void walk_dir(Walk& walk, int dir_fd) {
  int dup_fd = ::openat(dir_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dup_fd < 0) return;
  DIR* dir = ::fdopendir(dup_fd);
  if (!dir) {
    ::close(dup_fd);
    return;
  }
  while (struct dirent* ent = ::readdir(dir)) {
    if (std::strcmp(ent->d_name, ".") == 0 || std::strcmp(ent->d_name, "..") == 0) continue;
    struct stat st;
    if (::fstatat(dir_fd, ent->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0) continue;
    count(walk, st);
    if (S_ISDIR(st.st_mode)) {
      UniqueFd child(
          ::openat(dir_fd, ent->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
      if (child) walk_dir(walk, child.get());
    }
  }
  ::closedir(dir);
}

}  // namespace

Usage disk_usage(const std::string& path) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  if (!fd) {
    if (errno == ENOENT) return {};
    throw_errno("open " + path);
  }
  Walk walk;
  struct stat st;
  if (::fstat(fd.get(), &st) == 0) count(walk, st);
  walk_dir(walk, fd.get());
  return walk.usage;
}

}  // namespace crisp::snapshot
