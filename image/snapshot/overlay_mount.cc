#include "image/snapshot/overlay_mount.h"

#include <fcntl.h>
#include <sys/mount.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include "runtime/base/error.h"
#include "runtime/base/unique_fd.h"

namespace crisp::snapshot {

namespace {

// Set once a kernel refused "lowerdir+" (older than 6.8) or the new mount API: use mount(2).
std::atomic<bool> legacy_overlay_mount{false};

bool has_option(const Mount& mount, const std::string& option) {
  for (const auto& o : mount.options)
    if (o == option) return true;
  return false;
}

std::vector<std::string> split(const std::string& s, char sep) {
  std::vector<std::string> out;
  size_t pos = 0;
  for (;;) {
    size_t next = s.find(sep, pos);
    out.push_back(s.substr(pos, next - pos));
    if (next == std::string::npos) return out;
    pos = next + 1;
  }
}

void mount_bind(const Mount& mount, const std::string& target) {
  if (::mount(mount.source.c_str(), target.c_str(), nullptr, MS_BIND | MS_REC, nullptr) != 0)
    throw_errno("bind mount " + mount.source + " on " + target);
  if (has_option(mount, "ro") &&
      ::mount(nullptr, target.c_str(), nullptr, MS_BIND | MS_REMOUNT | MS_RDONLY, nullptr) != 0) {
    int err = errno;
    ::umount2(target.c_str(), MNT_DETACH);
    throw_errno(ErrorKind::kInternal, err, "remount read-only " + target);
  }
}

// New mount API. Returns false (errno set) if the kernel lacks it or "lowerdir+".
bool mount_overlay_fsopen(const Mount& mount, const std::string& target, bool with_volatile) {
  UniqueFd fs(::fsopen("overlay", FSOPEN_CLOEXEC));
  if (!fs) {
    if (errno == ENOSYS) return false;
    throw_errno("fsopen overlay");
  }
  for (const auto& option : mount.options) {
    auto eq = option.find('=');
    if (eq == std::string::npos) {
      if (option == "volatile" && !with_volatile) continue;
      if (option == "ro") continue;  // an overlay without upperdir is read-only anyway
      if (::fsconfig(fs.get(), FSCONFIG_SET_FLAG, option.c_str(), nullptr, 0) != 0) {
        if (option == "volatile") return mount_overlay_fsopen(mount, target, false);
        throw_errno(ErrorKind::kInvalidArgument, errno, "overlay option " + option);
      }
      continue;
    }
    std::string key = option.substr(0, eq), value = option.substr(eq + 1);
    if (key == "lowerdir") {
      const std::vector<std::string> dirs = split(value, ':');
      for (size_t i = 0; i < dirs.size(); ++i) {
        if (::fsconfig(fs.get(), FSCONFIG_SET_STRING, "lowerdir+", dirs[i].c_str(), 0) != 0) {
          if (errno == EINVAL && i == 0) return false;  // no "lowerdir+" before Linux 6.8
          throw_errno(ErrorKind::kInvalidArgument, errno, "overlay lowerdir " + dirs[i]);
        }
      }
      continue;
    }
    if (::fsconfig(fs.get(), FSCONFIG_SET_STRING, key.c_str(), value.c_str(), 0) != 0)
      throw_errno(ErrorKind::kInvalidArgument, errno, "overlay option " + option);
  }
  if (::fsconfig(fs.get(), FSCONFIG_CMD_CREATE, nullptr, nullptr, 0) != 0)
    throw_errno("create overlay for " + target);
  UniqueFd mnt(::fsmount(fs.get(), FSMOUNT_CLOEXEC, 0));
  if (!mnt) throw_errno("fsmount overlay for " + target);
  if (::move_mount(mnt.get(), "", AT_FDCWD, target.c_str(), MOVE_MOUNT_F_EMPTY_PATH) != 0)
    throw_errno("move_mount overlay on " + target);
  return true;
}

std::string join_options(const Mount& mount, bool with_volatile) {
  std::string data;
  for (const auto& option : mount.options) {
    if (option == "volatile" && !with_volatile) continue;
    if (option == "ro") continue;
    if (!data.empty()) data += ',';
    data += option;
  }
  return data;
}

// The options with every layer path replaced by /proc/self/fd/<n> of an O_PATH descriptor held
// in `fds`: ~17 bytes per layer instead of ~100, so ~200 layers fit in a page.
std::string fd_path_options(const Mount& mount, bool with_volatile, std::vector<UniqueFd>& fds) {
  Mount shortened = mount;
  for (auto& option : shortened.options) {
    auto eq = option.find('=');
    if (eq == std::string::npos) continue;
    std::string key = option.substr(0, eq);
    if (key != "lowerdir" && key != "upperdir" && key != "workdir") continue;
    std::string value;
    for (auto& path : split(option.substr(eq + 1), ':')) {
      UniqueFd fd(::open(path.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
      if (!fd) throw_errno("open overlay layer " + path);
      if (!value.empty()) value += ':';
      value += "/proc/self/fd/" + std::to_string(fd.get());
      fds.push_back(std::move(fd));
    }
    option = key + "=" + value;
  }
  return join_options(shortened, with_volatile);
}

void mount_overlay_legacy(const Mount& mount, const std::string& target, bool with_volatile) {
  const long page = ::sysconf(_SC_PAGESIZE);
  std::string data = join_options(mount, with_volatile);
  int err = 0;
  if (static_cast<long>(data.size()) < page) {
    if (::mount(mount.source.c_str(), target.c_str(), "overlay", 0, data.c_str()) != 0) err = errno;
  } else {
    std::vector<UniqueFd> fds;
    data = fd_path_options(mount, with_volatile, fds);
    if (static_cast<long>(data.size()) >= page)
      throw Error(ErrorKind::kResourceExhausted,
                  "overlay options for " + target + " exceed a page (too many layers)");
    if (::mount(mount.source.c_str(), target.c_str(), "overlay", 0, data.c_str()) != 0) err = errno;
  }
  if (err == 0) return;
  if (err == EINVAL && with_volatile && has_option(mount, "volatile"))
    return mount_overlay_legacy(mount, target, false);
  throw_errno(ErrorKind::kInternal, err, "mount overlay on " + target);
}

}  // namespace

void mount_snapshot(const Mount& mount, const std::string& target) {
  if (mount.type == "bind") return mount_bind(mount, target);
  if (mount.type != "overlay")
    throw Error(ErrorKind::kInvalidArgument, "unsupported snapshot mount type " + mount.type);
  if (!legacy_overlay_mount.load(std::memory_order_relaxed)) {
    if (mount_overlay_fsopen(mount, target, true)) return;
    legacy_overlay_mount.store(true, std::memory_order_relaxed);
  }
  mount_overlay_legacy(mount, target, true);
}

void unmount_snapshot(const std::string& target) {
  if (::umount2(target.c_str(), UMOUNT_NOFOLLOW) == 0) return;
  if (errno == EINVAL || errno == ENOENT) return;  // not mounted
  if (errno == EBUSY && ::umount2(target.c_str(), MNT_DETACH | UMOUNT_NOFOLLOW) == 0) return;
  throw_errno("unmount " + target);
}

void set_legacy_overlay_mount_for_testing(bool legacy) {
  legacy_overlay_mount.store(legacy, std::memory_order_relaxed);
}

bool is_mount_point(const std::string& target) {
  std::ifstream mountinfo("/proc/self/mountinfo");
  std::string line;
  while (std::getline(mountinfo, line)) {
    std::istringstream fields(line);
    std::string id, parent, devno, root, mount_point;
    fields >> id >> parent >> devno >> root >> mount_point;
    if (mount_point == target) return true;
  }
  return false;
}

}  // namespace crisp::snapshot
