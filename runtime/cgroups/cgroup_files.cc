#include "runtime/cgroups/cgroup_files.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <sstream>
#include <thread>
#include <vector>

#include "runtime/base/error.h"
#include "runtime/base/unique_fd.h"

namespace crisp::cgroups {

void write_cgroup_file(const std::string& dir, const std::string& file, const std::string& value) {
  std::string path = dir + "/" + file;
  UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CLOEXEC | O_TRUNC));
  if (!fd) {
    if (errno == ENOENT) throw_errno(ErrorKind::kNotFound, errno, "cgroup file " + path);
    throw_errno("open " + path);
  }
  ssize_t n;
  do {
    n = ::write(fd.get(), value.data(), value.size());
  } while (n < 0 && errno == EINTR);
  if (n < 0) {
    int err = errno;
    ErrorKind kind = (err == EINVAL || err == ERANGE) ? ErrorKind::kInvalidArgument : ErrorKind::kInternal;
    throw_errno(kind, err, "write \"" + value + "\" to " + path);
  }
}

std::optional<std::string> read_cgroup_file(const std::string& dir, const std::string& file) {
  std::string path = dir + "/" + file;
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) {
    if (errno == ENOENT || errno == ENOTDIR) return std::nullopt;
    throw_errno("open " + path);
  }
  std::string out;
  char buf[4096];
  for (;;) {
    ssize_t n = ::read(fd.get(), buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == ENODEV) return std::nullopt;  // cgroup removed under us
      throw_errno("read " + path);
    }
    if (n == 0) break;
    out.append(buf, static_cast<size_t>(n));
  }
  return out;
}

std::optional<uint64_t> read_cgroup_number(const std::string& dir, const std::string& file) {
  auto content = read_cgroup_file(dir, file);
  if (!content) return std::nullopt;
  std::string s = *content;
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  if (s.empty() || s == "max") return std::nullopt;
  char* end = nullptr;
  errno = 0;
  unsigned long long v = std::strtoull(s.c_str(), &end, 10);
  if (errno != 0 || *end != '\0') {
    throw Error(ErrorKind::kInternal, "unexpected content \"" + s + "\" in " + dir + "/" + file);
  }
  return v;
}

std::map<std::string, uint64_t> parse_flat_keyed(const std::string& content) {
  std::map<std::string, uint64_t> out;
  std::istringstream in(content);
  std::string line;
  while (std::getline(in, line)) {
    auto space = line.find(' ');
    if (space == std::string::npos) continue;
    const char* value = line.c_str() + space + 1;
    char* end = nullptr;
    errno = 0;
    unsigned long long v = std::strtoull(value, &end, 10);
    if (errno != 0 || end == value) continue;
    out[line.substr(0, space)] = v;
  }
  return out;
}

bool path_exists(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0;
}

bool make_cgroup_dir(const std::string& path) {
  if (path.empty() || path == "/") return false;
  if (::mkdir(path.c_str(), 0755) == 0) return true;
  if (errno == EEXIST) return false;
  if (errno == ENOENT) {
    auto slash = path.rfind('/');
    if (slash != std::string::npos && slash > 0) make_cgroup_dir(path.substr(0, slash));
    if (::mkdir(path.c_str(), 0755) == 0) return true;
    if (errno == EEXIST) return false;
  }
  throw_errno("mkdir " + path);
}

namespace {

std::vector<std::string> child_dirs(const std::string& path) {
  std::vector<std::string> out;
  DIR* dir = ::opendir(path.c_str());
  if (!dir) return out;
  while (struct dirent* ent = ::readdir(dir)) {
    if (ent->d_type != DT_DIR) continue;
    if (std::strcmp(ent->d_name, ".") == 0 || std::strcmp(ent->d_name, "..") == 0) continue;
    out.push_back(path + "/" + ent->d_name);
  }
  ::closedir(dir);
  return out;
}

bool try_rmdir(const std::string& path, int* err) {
  for (const auto& child : child_dirs(path)) try_rmdir(child, err);
  if (::rmdir(path.c_str()) == 0 || errno == ENOENT) return true;
  // A fake tree in a temp dir holds regular "control files": delete them like the kernel does.
  if (errno == ENOTEMPTY) {
    DIR* dir = ::opendir(path.c_str());
    if (dir) {
      while (struct dirent* ent = ::readdir(dir)) {
        if (ent->d_type == DT_REG) ::unlinkat(dirfd(dir), ent->d_name, 0);
      }
      ::closedir(dir);
    }
    if (::rmdir(path.c_str()) == 0 || errno == ENOENT) return true;
  }
  *err = errno;
  return false;
}

}  // namespace

void remove_cgroup_dir(const std::string& path, std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  auto delay = std::chrono::milliseconds(1);
  for (;;) {
    int err = 0;
    if (try_rmdir(path, &err)) return;
    if (err != EBUSY || std::chrono::steady_clock::now() >= deadline) {
      throw_errno(err == EBUSY ? ErrorKind::kFailedPrecondition : ErrorKind::kInternal, err,
                  "remove cgroup " + path);
    }
    std::this_thread::sleep_for(delay);
    if (delay < std::chrono::milliseconds(50)) delay *= 2;
  }
}

std::string join_cgroup_path(const std::string& hierarchy, const std::string& cgroup_path) {
  if (cgroup_path.empty() || cgroup_path == "/") return hierarchy;
  return hierarchy + cgroup_path;
}

std::string normalize_cgroup_path(const std::string& path) {
  std::string out;
  std::istringstream in(path);
  std::string part;
  while (std::getline(in, part, '/')) {
    if (part.empty() || part == ".") continue;
    if (part == "..") throw Error(ErrorKind::kInvalidArgument, "cgroup path \"" + path + "\" contains ..");
    out += "/" + part;
  }
  return out.empty() ? "/" : out;
}

}  // namespace crisp::cgroups
