#include "runtime/cgroups/cgroupfs_paths.h"

#include "runtime/base/error.h"
#include "runtime/cgroups/cgroup_files.h"

namespace crisp::cgroups {

namespace {

void check_id(const std::string& id, const char* what) {
  if (id.empty() || id.find('/') != std::string::npos || id == "." || id == "..") {
    throw Error(ErrorKind::kInvalidArgument, std::string("invalid ") + what + " \"" + id + "\" for a cgroup name");
  }
}

}  // namespace

std::string cgroupfs_pod_path(const std::string& cgroup_parent, const std::string& sandbox_id) {
  if (cgroup_parent.empty()) {
    check_id(sandbox_id, "sandbox id");
    return std::string(kDefaultCgroupfsParent) + "/" + sandbox_id;
  }
  if (cgroup_parent.size() > 6 && cgroup_parent.compare(cgroup_parent.size() - 6, 6, ".slice") == 0 &&
      cgroup_parent.find('/') == std::string::npos) {
    throw Error(ErrorKind::kInvalidArgument, "cgroup_parent \"" + cgroup_parent +
                                                 "\" is a systemd slice but crisp uses the cgroupfs driver");
  }
  std::string path = normalize_cgroup_path(cgroup_parent);
  if (path == "/") throw Error(ErrorKind::kInvalidArgument, "cgroup_parent must not be the root cgroup");
  return path;
}

std::string cgroupfs_container_path(const std::string& pod_path, const std::string& container_id) {
  check_id(container_id, "container id");
  return normalize_cgroup_path(pod_path) + "/" + container_id;
}

}  // namespace crisp::cgroups
