#include "runtime/cgroups/device_rules.h"

#include <dirent.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include <cerrno>
#include <cstring>

#include "runtime/base/error.h"

namespace crisp::cgroups {

namespace {

HostDevice from_stat(const std::string& path, const struct stat& st) {
  HostDevice d;
  d.path = path;
  d.type = S_ISBLK(st.st_mode) ? 'b' : 'c';
  d.major = ::major(st.st_rdev);
  d.minor = ::minor(st.st_rdev);
  d.mode = st.st_mode & 07777;
  d.uid = st.st_uid;
  d.gid = st.st_gid;
  return d;
}

void walk(const std::string& dir, std::vector<HostDevice>& out) {
  DIR* d = ::opendir(dir.c_str());
  if (!d) return;
  while (struct dirent* ent = ::readdir(d)) {
    std::string name = ent->d_name;
    if (name == "." || name == "..") continue;
    std::string path = dir + "/" + name;
    if (path == "/dev/pts" || path == "/dev/shm" || path == "/dev/mqueue" || path == "/dev/console") continue;
    struct stat st;
    if (::lstat(path.c_str(), &st) != 0) continue;
    if (S_ISDIR(st.st_mode)) {
      walk(path, out);
    } else if (S_ISCHR(st.st_mode) || S_ISBLK(st.st_mode)) {
      out.push_back(from_stat(path, st));
    }
  }
  ::closedir(d);
}

}  // namespace

HostDevice stat_host_device(const std::string& path) {
  if (path.empty() || path[0] != '/') {
    throw Error(ErrorKind::kInvalidArgument, "device host path \"" + path + "\" is not absolute");
  }
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) {
    throw_errno(errno == ENOENT ? ErrorKind::kNotFound : ErrorKind::kInternal, errno, "device " + path);
  }
  if (!S_ISCHR(st.st_mode) && !S_ISBLK(st.st_mode)) {
    throw Error(ErrorKind::kInvalidArgument, "host path " + path + " is not a character or block device");
  }
  return from_stat(path, st);
}

std::vector<HostDevice> list_host_devices(const std::string& dir) {
  std::vector<HostDevice> out;
  walk(dir, out);
  return out;
}

void validate_device_permissions(const std::string& permissions) {
  bool seen[3] = {false, false, false};
  for (char c : permissions) {
    const char* pos = std::strchr("rwm", c);
    if (c == '\0' || !pos || seen[pos - "rwm"]) {
      throw Error(ErrorKind::kInvalidArgument, "device permissions \"" + permissions + "\" are not a subset of rwm");
    }
    seen[pos - "rwm"] = true;
  }
  if (permissions.empty()) throw Error(ErrorKind::kInvalidArgument, "device permissions are empty");
}

std::string device_rule_line(const DeviceRule& rule) {
  auto number = [](int64_t n) { return n < 0 ? std::string("*") : std::to_string(n); };
  return std::string(1, rule.type) + " " + number(rule.major) + ":" + number(rule.minor) + " " + rule.access;
}

std::vector<DeviceRule> default_device_rules() {
  return {
      {false, 'a', -1, -1, "rwm"},  // deny everything, then allow the basics
      {true, 'c', -1, -1, "m"},     // mknod of any char device (using it still needs a rule)
      {true, 'b', -1, -1, "m"},
      {true, 'c', 1, 3, "rwm"},    // /dev/null
      {true, 'c', 1, 5, "rwm"},    // /dev/zero
      {true, 'c', 1, 7, "rwm"},    // /dev/full
      {true, 'c', 1, 8, "rwm"},    // /dev/random
      {true, 'c', 1, 9, "rwm"},    // /dev/urandom
      {true, 'c', 5, 0, "rwm"},    // /dev/tty
      {true, 'c', 5, 1, "rwm"},    // /dev/console
      {true, 'c', 5, 2, "rwm"},    // /dev/ptmx
      {true, 'c', 136, -1, "rwm"},  // /dev/pts/*
      {true, 'c', 10, 200, "rwm"},  // /dev/net/tun
  };
}

DeviceRule allow_rule_for(const HostDevice& device, const std::string& permissions) {
  validate_device_permissions(permissions);
  return DeviceRule{true, device.type, device.major, device.minor, permissions};
}

}  // namespace crisp::cgroups
