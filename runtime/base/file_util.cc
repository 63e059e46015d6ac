#include "runtime/base/file_util.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "runtime/base/error.h"
#include "runtime/base/unique_fd.h"

namespace crisp {

namespace {

void write_all(int fd, const char* data, size_t len, const std::string& path) {
  while (len > 0) {
    ssize_t n = ::write(fd, data, len);
    if (n < 0) {
      if (errno == EINTR) continue;
      throw_errno("write " + path);
    }
    data += n;
    len -= static_cast<size_t>(n);
  }
}

std::string dir_of(const std::string& path) {
  auto slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

// Removes the contents of dirfd (recursively), staying on device `dev`.
void remove_contents(int dirfd, dev_t dev, const std::string& path) {
  int dupfd = ::fcntl(dirfd, F_DUPFD_CLOEXEC, 0);
  if (dupfd < 0) throw_errno("dup " + path);
  DIR* dir = ::fdopendir(dupfd);
  if (!dir) {
    ::close(dupfd);
    throw_errno("opendir " + path);
  }
  while (struct dirent* ent = ::readdir(dir)) {
    const char* name = ent->d_name;
    if (std::strcmp(name, ".") == 0 || std::strcmp(name, "..") == 0) continue;
    struct stat st;
    if (::fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) != 0) continue;
    std::string child = path + "/" + name;
    if (S_ISDIR(st.st_mode)) {
      if (st.st_dev != dev) {
        ::closedir(dir);
        throw Error(ErrorKind::kFailedPrecondition, "refusing to remove mount point " + child);
      }
      int cfd = ::openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
      if (cfd < 0) continue;
      UniqueFd child_fd(cfd);
      try {
        remove_contents(cfd, dev, child);
      } catch (...) {
        ::closedir(dir);
        throw;
      }
      if (::unlinkat(dirfd, name, AT_REMOVEDIR) != 0 && errno != ENOENT) {
        int err = errno;
        ::closedir(dir);
        throw_errno(ErrorKind::kInternal, err, "rmdir " + child);
      }
    } else if (::unlinkat(dirfd, name, 0) != 0 && errno != ENOENT) {
      int err = errno;
      ::closedir(dir);
      throw_errno(ErrorKind::kInternal, err, "unlink " + child);
    }
  }
  ::closedir(dir);
}

}  // namespace

void fsync_dir(const std::string& path) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!fd) throw_errno("open dir " + path);
  ::fsync(fd.get());
}

void atomic_write_file(const std::string& path, const std::string& data, unsigned mode) {
  std::string tmp = path + ".tmp-" + random_hex(6);
  UniqueFd fd(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode));
  if (!fd) throw_errno("create " + tmp);
  try {
    write_all(fd.get(), data.data(), data.size(), tmp);
    if (::fsync(fd.get()) != 0) throw_errno("fsync " + tmp);
    fd.reset();
    if (::rename(tmp.c_str(), path.c_str()) != 0) throw_errno("rename " + tmp + " to " + path);
  } catch (...) {
    ::unlink(tmp.c_str());
    throw;
  }
  fsync_dir(dir_of(path));
}

std::optional<std::string> read_file_if_exists(const std::string& path) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) {
    if (errno == ENOENT) return std::nullopt;
    throw_errno("open " + path);
  }
  std::string out;
  char buf[8192];
  for (;;) {
    ssize_t n = ::read(fd.get(), buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR) continue;
      throw_errno("read " + path);
    }
    if (n == 0) break;
    out.append(buf, static_cast<size_t>(n));
  }
  return out;
}

std::string read_file(const std::string& path) {
  auto content = read_file_if_exists(path);
  if (!content) throw Error(ErrorKind::kNotFound, "file not found: " + path);
  return *content;
}

void make_dirs(const std::string& path, unsigned mode) {
  if (path.empty()) return;
  std::string partial;
  size_t pos = 0;
  while (pos != std::string::npos) {
    pos = path.find('/', pos + 1);
    partial = path.substr(0, pos);
    if (partial.empty()) continue;
    if (::mkdir(partial.c_str(), mode) != 0 && errno != EEXIST) throw_errno("mkdir " + partial);
  }
  struct stat st;
  if (::stat(path.c_str(), &st) != 0 || !S_ISDIR(st.st_mode))
    throw Error(ErrorKind::kInternal, "not a directory: " + path);
}

void remove_tree(const std::string& path) {
  struct stat st;
  if (::lstat(path.c_str(), &st) != 0) {
    if (errno == ENOENT) return;
    throw_errno("stat " + path);
  }
  if (!S_ISDIR(st.st_mode)) {
    if (::unlink(path.c_str()) != 0 && errno != ENOENT) throw_errno("unlink " + path);
    return;
  }
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  if (!fd) throw_errno("open " + path);
  remove_contents(fd.get(), st.st_dev, path);
  fd.reset();
  if (::rmdir(path.c_str()) != 0 && errno != ENOENT) throw_errno("rmdir " + path);
}

std::string random_hex(size_t bytes) {
  static const char kHex[] = "0123456789abcdef";
  std::string raw(bytes, '\0');
  size_t got = 0;
  while (got < bytes) {
    ssize_t n = ::getrandom(raw.data() + got, bytes - got, 0);
    if (n < 0) {
      if (errno == EINTR) continue;
      throw_errno("getrandom");
    }
    got += static_cast<size_t>(n);
  }
  std::string out;
  out.reserve(bytes * 2);
  for (unsigned char c : raw) {
    out.push_back(kHex[c >> 4]);
    out.push_back(kHex[c & 15]);
  }
  return out;
}

}  // namespace crisp
