#include "runtime/image_user.h"

#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <sstream>

#include "runtime/base/error.h"
#include "runtime/base/unique_fd.h"

namespace crisp::runtime {

namespace {

struct PasswdEntry {
  std::string name;
  uint32_t uid = 0;
  uint32_t gid = 0;
  std::string home;
};

struct GroupEntry {
  std::string name;
  uint32_t gid = 0;
  std::vector<std::string> members;
};

std::vector<std::string> split(const std::string& s, char sep) {
  std::vector<std::string> parts;
  std::string part;
  std::istringstream in(s);
  while (std::getline(in, part, sep)) parts.push_back(part);
  if (!s.empty() && s.back() == sep) parts.emplace_back();
  return parts;
}

std::optional<uint32_t> parse_id(const std::string& s) {
  if (s.empty()) return std::nullopt;
  uint32_t v = 0;
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || ptr != s.data() + s.size()) return std::nullopt;
  return v;
}

std::vector<PasswdEntry> parse_passwd(const std::string& text) {
  std::vector<PasswdEntry> entries;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    auto f = split(line, ':');
    if (f.size() < 4) continue;
    auto uid = parse_id(f[2]);
    auto gid = parse_id(f[3]);
    if (!uid || !gid) continue;
    entries.push_back({f[0], *uid, *gid, f.size() > 5 ? f[5] : ""});
  }
  return entries;
}

std::vector<GroupEntry> parse_group(const std::string& text) {
  std::vector<GroupEntry> entries;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    auto f = split(line, ':');
    if (f.size() < 3) continue;
    auto gid = parse_id(f[2]);
    if (!gid) continue;
    GroupEntry g{f[0], *gid, {}};
    if (f.size() > 3 && !f[3].empty()) g.members = split(f[3], ',');
    entries.push_back(std::move(g));
  }
  return entries;
}

uint32_t checked_id(int64_t v, const char* what) {
  if (v < 0 || v > 0xFFFFFFFELL) throw Error(ErrorKind::kInvalidArgument, std::string("invalid ") + what + " " + std::to_string(v));
  return static_cast<uint32_t>(v);
}

}  // namespace

ResolvedUser resolve_user(const UserRequest& request, const std::string& passwd_text, const std::string& group_text) {
  auto passwd = parse_passwd(passwd_text);
  auto groups = parse_group(group_text);
  std::string user_part;
  std::string group_part;
  if (request.run_as_user) {
    user_part = std::to_string(checked_id(*request.run_as_user, "run_as_user"));
  } else if (!request.run_as_username.empty()) {
    user_part = request.run_as_username;
  } else if (!request.image_user.empty()) {
    auto colon = request.image_user.find(':');
    user_part = request.image_user.substr(0, colon);
    if (colon != std::string::npos) group_part = request.image_user.substr(colon + 1);
  }

  ResolvedUser user;
  const PasswdEntry* entry = nullptr;
  if (!user_part.empty()) {
    if (auto uid = parse_id(user_part)) {
      user.uid = *uid;
      for (const auto& p : passwd) {
        if (p.uid == *uid) {
          entry = &p;
          break;
        }
      }
    } else {
      for (const auto& p : passwd) {
        if (p.name == user_part) {
          entry = &p;
          break;
        }
      }
      if (!entry) throw Error(ErrorKind::kInvalidArgument, "user \"" + user_part + "\" not found in the image's /etc/passwd");
      user.uid = entry->uid;
    }
  } else {
    for (const auto& p : passwd) {
      if (p.uid == 0) {
        entry = &p;
        break;
      }
    }
  }
  if (entry) {
    user.gid = entry->gid;
    if (!entry->home.empty()) user.home = entry->home;
  }
  if (!group_part.empty()) {
    if (auto gid = parse_id(group_part)) {
      user.gid = *gid;
    } else {
      bool found = false;
      for (const auto& g : groups) {
        if (g.name == group_part) {
          user.gid = g.gid;
          found = true;
          break;
        }
      }
      if (!found) throw Error(ErrorKind::kInvalidArgument, "group \"" + group_part + "\" not found in the image's /etc/group");
    }
  }
  if (request.run_as_group) user.gid = checked_id(*request.run_as_group, "run_as_group");

  // The primary group (as containerd does), groups of the image that list the user as a member,
  // then the pod's supplemental groups.
  auto add_gid = [&](uint32_t gid) {
    for (uint32_t g : user.additional_gids) {
      if (g == gid) return;
    }
    user.additional_gids.push_back(gid);
  };
  add_gid(user.gid);
  if (entry) {
    for (const auto& g : groups) {
      for (const auto& member : g.members) {
        if (member == entry->name) add_gid(g.gid);
      }
    }
  }
  for (int64_t g : request.supplemental_groups) add_gid(checked_id(g, "supplemental group"));
  return user;
}

namespace {

UniqueFd open_in_root(const std::string& rootfs, const std::string& path, int flags) {
  UniqueFd root(::open(rootfs.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
  if (!root) throw_errno("open rootfs " + rootfs);
  struct open_how how = {};
  how.flags = static_cast<uint64_t>(flags | O_CLOEXEC);
  how.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS;
  std::string relative = path;
  while (!relative.empty() && relative[0] == '/') relative.erase(0, 1);
  if (relative.empty()) relative = ".";
  int fd = static_cast<int>(::syscall(SYS_openat2, root.get(), relative.c_str(), &how, sizeof(how)));
  return UniqueFd(fd);
}

}  // namespace

std::optional<std::string> read_file_in_root(const std::string& rootfs, const std::string& path, size_t max_bytes) {
  UniqueFd fd = open_in_root(rootfs, path, O_RDONLY | O_NONBLOCK);
  if (!fd) {
    if (errno == ENOENT || errno == ENOTDIR || errno == ELOOP) return std::nullopt;
    throw_errno("open " + path + " in the image");
  }
  struct stat st;
  if (::fstat(fd.get(), &st) != 0 || !S_ISREG(st.st_mode)) return std::nullopt;
  std::string data;
  char buf[8192];
  for (;;) {
    ssize_t n = ::read(fd.get(), buf, sizeof(buf));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) throw_errno("read " + path + " in the image");
    if (n == 0) break;
    data.append(buf, static_cast<size_t>(n));
    if (data.size() > max_bytes) throw Error(ErrorKind::kInvalidArgument, path + " in the image is too large");
  }
  return data;
}

bool executable_in_root(const std::string& rootfs, const std::string& path) {
  UniqueFd fd = open_in_root(rootfs, path, O_PATH);
  if (!fd) return false;
  struct stat st;
  if (::fstat(fd.get(), &st) != 0) return false;
  return S_ISREG(st.st_mode) && (st.st_mode & 0111) != 0;
}

}  // namespace crisp::runtime
