#include "runtime/disk_usage.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>
#include <set>
#include <utility>

namespace crisp::runtime {

namespace {

void walk(int dirfd, dev_t dev, DiskUsage& usage, std::set<std::pair<dev_t, ino_t>>& seen) {
  int dupfd = ::fcntl(dirfd, F_DUPFD_CLOEXEC, 0);
  if (dupfd < 0) return;
  DIR* dir = ::fdopendir(dupfd);
  if (!dir) {
    ::close(dupfd);
    return;
  }
  while (struct dirent* ent = ::readdir(dir)) {
    if (std::strcmp(ent->d_name, ".") == 0 || std::strcmp(ent->d_name, "..") == 0) continue;
    struct stat st;
    if (::fstatat(dirfd, ent->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0 || st.st_dev != dev) continue;
    if (st.st_nlink > 1 && !S_ISDIR(st.st_mode) && !seen.insert({st.st_dev, st.st_ino}).second) continue;
    usage.inodes += 1;
    usage.bytes += static_cast<uint64_t>(st.st_blocks) * 512;
    if (S_ISDIR(st.st_mode)) {
      int child = ::openat(dirfd, ent->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
      if (child >= 0) {
        walk(child, dev, usage, seen);
        ::close(child);
      }
    }
  }
  ::closedir(dir);
}

}  // namespace

DiskUsage directory_usage(const std::string& path) {
  DiskUsage usage;
  int fd = ::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) return usage;
  struct stat st;
  if (::fstat(fd, &st) == 0) {
    usage.inodes = 1;
    usage.bytes = static_cast<uint64_t>(st.st_blocks) * 512;
    std::set<std::pair<dev_t, ino_t>> seen;
    walk(fd, st.st_dev, usage, seen);
  }
  ::close(fd);
  return usage;
}

}  // namespace crisp::runtime
