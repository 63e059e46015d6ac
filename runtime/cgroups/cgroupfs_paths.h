#pragma once
// Cgroup paths in the cgroupfs drivers' syntax (plain paths).
#include <string>

namespace crisp::cgroups {

// Directory under which crisp puts pods whose sandbox config names no cgroup_parent.
inline constexpr const char* kDefaultCgroupfsParent = "/crisp";

// cgroup_parent as given ("/kubepods/burstable/pod<uid>"), normalized; an empty parent gives
// "/crisp/<sandbox id>". A systemd slice name ("...slice") -> kInvalidArgument: the kubelet and
// crisp disagree on the cgroup driver.
std::string cgroupfs_pod_path(const std::string& cgroup_parent, const std::string& sandbox_id);
// "<pod path>/<container id>".
std::string cgroupfs_container_path(const std::string& pod_path, const std::string& container_id);

}  // namespace crisp::cgroups
