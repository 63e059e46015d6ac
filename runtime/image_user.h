#pragma once
// The container's user: uid, gid, supplementary groups and home, from the CRI security context
// and the image's User, resolved against the image's /etc/passwd and /etc/group.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace crisp::runtime {

struct UserRequest {
  std::optional<int64_t> run_as_user;  // CRI run_as_user (wins over everything)
  std::string run_as_username;         // CRI run_as_username
  std::optional<int64_t> run_as_group;  // CRI run_as_group (overrides the gid)
  std::vector<int64_t> supplemental_groups;
  std::string image_user;  // OCI config User: "", "name", "uid", "name:group", "uid:gid"
};

struct ResolvedUser {
  uint32_t uid = 0;
  uint32_t gid = 0;
  std::vector<uint32_t> additional_gids;
  std::string home = "/";
};

// Pure resolution against the texts of passwd and group (either may be empty). Throws
// kInvalidArgument for a name that is in neither file or a malformed User.
ResolvedUser resolve_user(const UserRequest& request, const std::string& passwd, const std::string& group);

// Reads a regular file of the rootfs with every path component resolved inside it (symlinks
// cannot escape); nullopt if it does not exist. Limited to max_bytes.
std::optional<std::string> read_file_in_root(const std::string& rootfs, const std::string& path,
                                             size_t max_bytes = 4 << 20);

// Whether path names an executable regular file inside the rootfs (resolved inside it).
bool executable_in_root(const std::string& rootfs, const std::string& path);

}  // namespace crisp::runtime
