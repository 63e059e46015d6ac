// cgroupfs driver for cgroup v2: the unified hierarchy at the root.
#include <sstream>

#include "runtime/base/cleanup.h"
#include "runtime/base/error.h"
#include "runtime/cgroups/cgroup_driver.h"
#include "runtime/cgroups/cgroup_files.h"
#include "runtime/cgroups/cgroup_v2_files.h"
#include "runtime/cgroups/cgroupfs_paths.h"

namespace crisp::cgroups {

namespace {

class CgroupfsV2Driver : public CgroupDriver {
 public:
  explicit CgroupfsV2Driver(std::string root) : root_(std::move(root)) {}

  CgroupVersion version() const override { return CgroupVersion::kV2; }
  const char* name() const override { return "cgroupfs"; }

  std::string pod_cgroup_path(const std::string& cgroup_parent, const std::string& sandbox_id) const override {
    return cgroupfs_pod_path(cgroup_parent, sandbox_id);
  }
  std::string container_cgroup_path(const std::string& pod_path, const std::string& container_id) const override {
    return cgroupfs_container_path(pod_path, container_id);
  }

  void create(const CgroupRequest& request) override {
    validate_resources(request.resources);
    check_v2_supported(request.resources);
    std::string path = normalize_cgroup_path(request.path);
    if (path == "/") throw Error(ErrorKind::kInvalidArgument, "refusing to use the root cgroup");
    std::vector<std::string> created;
    Cleanup undo([&] {
      for (auto it = created.rbegin(); it != created.rend(); ++it) {
        try {
          remove_cgroup_dir(*it, std::chrono::milliseconds(100));
        } catch (...) {
        }
      }
    });
    std::string parent = root_;
    std::istringstream in(path.substr(1));
    std::string part;
    while (std::getline(in, part, '/')) {
      enable_v2_controllers(parent);
      std::string dir = parent + "/" + part;
      if (make_cgroup_dir(dir)) created.push_back(dir);
      parent = dir;
    }
    apply_v2_resources(parent, request.resources);
    undo.dismiss();
  }

  void update(const std::string& path, const CgroupResources& resources) override {
    validate_resources(resources);
    check_v2_supported(resources);
    std::string dir = join_cgroup_path(root_, normalize_cgroup_path(path));
    if (!path_exists(dir)) throw Error(ErrorKind::kNotFound, "cgroup " + path + " does not exist");
    apply_v2_resources(dir, resources);
  }

  bool exists(const std::string& path) const override {
    return path_exists(join_cgroup_path(root_, normalize_cgroup_path(path)));
  }

  CgroupStats stats(const std::string& path) const override {
    return read_v2_stats(join_cgroup_path(root_, normalize_cgroup_path(path)));
  }

  uint64_t oom_kill_count(const std::string& path) const override {
    return read_v2_oom_kills(join_cgroup_path(root_, normalize_cgroup_path(path)));
  }

  std::vector<std::string> procs_files(const std::string& path) const override {
    return {join_cgroup_path(root_, normalize_cgroup_path(path)) + "/cgroup.procs"};
  }

  std::vector<pid_t> pids(const std::string& path) const override {
    return read_v2_pids(join_cgroup_path(root_, normalize_cgroup_path(path)));
  }

  void remove(const std::string& path, std::chrono::milliseconds timeout) override {
    std::string p = normalize_cgroup_path(path);
    if (p == "/") throw Error(ErrorKind::kInvalidArgument, "refusing to remove the root cgroup");
    remove_cgroup_dir(join_cgroup_path(root_, p), timeout);
  }

 private:
  std::string root_;
};

}  // namespace

std::unique_ptr<CgroupDriver> make_cgroupfs_v2_driver(const std::string& root) {
  return std::make_unique<CgroupfsV2Driver>(root);
}

}  // namespace crisp::cgroups
