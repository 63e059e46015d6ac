// cgroupfs driver for cgroup v1: one hierarchy per controller under the root.
#include <sys/stat.h>

#include <climits>
#include <cstdlib>
#include <sstream>

#include "runtime/base/cleanup.h"
#include "runtime/base/error.h"
#include "runtime/cgroups/cgroup_driver.h"
#include "runtime/cgroups/cgroup_files.h"
#include "runtime/cgroups/cgroupfs_paths.h"

namespace crisp::cgroups {

namespace {

// The controllers a container joins, in the order runc lists them. "name=systemd" is joined too
// so systemd-style tools find the container.
const char* const kV1Controllers[] = {"cpu",     "cpuacct", "cpuset", "memory",  "pids",
                                      "hugetlb", "devices", "blkio",  "freezer", "systemd"};

// A limit at or above this is the kernel's "unlimited" (PAGE_COUNTER_MAX rounded).
constexpr uint64_t kUnlimitedBytes = uint64_t{1} << 62;

class CgroupfsV1Driver : public CgroupDriver {
 public:
  explicit CgroupfsV1Driver(std::string root) : root_(std::move(root)) {
    // Resolve each controller to its hierarchy directory; "cpu" and "cpuacct" are usually links
    // to "cpu,cpuacct" and share one directory.
    std::vector<std::string> seen;
    for (const char* controller : kV1Controllers) {
      std::string dir = root_ + "/" + controller;
      char resolved[PATH_MAX];
      if (!::realpath(dir.c_str(), resolved)) continue;
      struct stat st;
      if (::stat(resolved, &st) != 0 || !S_ISDIR(st.st_mode)) continue;
      hierarchies_.push_back({controller, resolved});
      bool duplicate = false;
      for (const auto& s : seen) duplicate |= (s == resolved);
      if (!duplicate) {
        seen.push_back(resolved);
        unique_dirs_.push_back(resolved);
      }
    }
  }

  CgroupVersion version() const override { return CgroupVersion::kV1; }
  const char* name() const override { return "cgroupfs"; }

  std::string pod_cgroup_path(const std::string& cgroup_parent, const std::string& sandbox_id) const override {
    return cgroupfs_pod_path(cgroup_parent, sandbox_id);
  }
  std::string container_cgroup_path(const std::string& pod_path, const std::string& container_id) const override {
    return cgroupfs_container_path(pod_path, container_id);
  }

  void create(const CgroupRequest& request) override {
    validate_resources(request.resources);
    if (!request.resources.unified.empty()) {
      throw Error(ErrorKind::kInvalidArgument, "the unified resources map needs cgroup v2");
    }
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
    for (const auto& dir : unique_dirs_) {
      // Create each missing ancestor so it can be rolled back too.
      std::string partial;
      std::istringstream in(path.substr(1));
      std::string part;
      while (std::getline(in, part, '/')) {
        partial += "/" + part;
        std::string full = join_cgroup_path(dir, partial);
        if (make_cgroup_dir(full)) created.push_back(full);
      }
    }
    // cpuset children start empty on v1; a task cannot join until cpus and mems are set.
    if (const std::string* cpuset = dir_of("cpuset")) init_cpuset(*cpuset, path);
    apply(path, request.resources, /*creating=*/true);
    undo.dismiss();
  }

  void update(const std::string& path, const CgroupResources& resources) override {
    validate_resources(resources);
    if (!resources.unified.empty()) {
      throw Error(ErrorKind::kInvalidArgument, "the unified resources map needs cgroup v2");
    }
    std::string p = normalize_cgroup_path(path);
    if (!exists(p)) throw Error(ErrorKind::kNotFound, "cgroup " + p + " does not exist");
    apply(p, resources, /*creating=*/false);
  }

  bool exists(const std::string& path) const override {
    if (unique_dirs_.empty()) return false;
    return path_exists(join_cgroup_path(unique_dirs_.front(), normalize_cgroup_path(path)));
  }

  CgroupStats stats(const std::string& path) const override {
    std::string p = normalize_cgroup_path(path);
    CgroupStats s;
    if (const std::string* cpuacct = dir_of("cpuacct")) {
      std::string dir = join_cgroup_path(*cpuacct, p);
      s.cpu_usage_ns = read_cgroup_number(dir, "cpuacct.usage").value_or(0);
      if (auto stat = read_cgroup_file(dir, "cpuacct.stat")) {
        auto kv = parse_flat_keyed(*stat);
        long hz = ::sysconf(_SC_CLK_TCK);
        if (hz <= 0) hz = 100;
        s.cpu_user_ns = kv["user"] * (1000000000ull / static_cast<uint64_t>(hz));
        s.cpu_system_ns = kv["system"] * (1000000000ull / static_cast<uint64_t>(hz));
      }
    }
    if (const std::string* memory = dir_of("memory")) {
      std::string dir = join_cgroup_path(*memory, p);
      s.memory_usage_bytes = read_cgroup_number(dir, "memory.usage_in_bytes").value_or(0);
      uint64_t inactive_file = 0;
      if (auto stat = read_cgroup_file(dir, "memory.stat")) {
        auto kv = parse_flat_keyed(*stat);
        inactive_file = kv["total_inactive_file"];
        s.memory_rss_bytes = kv["total_rss"];
        s.memory_page_faults = kv["total_pgfault"];
        s.memory_major_page_faults = kv["total_pgmajfault"];
        s.memory_cache_bytes = kv["total_cache"];
        s.memory_swap_bytes = kv["total_swap"];
      }
      s.memory_max_usage_bytes = read_cgroup_number(dir, "memory.max_usage_in_bytes").value_or(0);
      s.memory_failcnt = read_cgroup_number(dir, "memory.failcnt").value_or(0);
      s.memory_working_set_bytes = s.memory_usage_bytes > inactive_file ? s.memory_usage_bytes - inactive_file : 0;
      uint64_t limit = read_cgroup_number(dir, "memory.limit_in_bytes").value_or(0);
      s.memory_limit_bytes = limit >= kUnlimitedBytes ? 0 : limit;
      if (s.memory_limit_bytes > 0) {
        s.memory_available_bytes = s.memory_limit_bytes > s.memory_working_set_bytes
                                       ? s.memory_limit_bytes - s.memory_working_set_bytes
                                       : 0;
      }
      s.oom_kills = oom_kills_in(dir);
    }
    if (const std::string* cpu = dir_of("cpu")) {
      if (auto stat = read_cgroup_file(join_cgroup_path(*cpu, p), "cpu.stat")) {
        auto kv = parse_flat_keyed(*stat);
        s.cpu_periods = kv["nr_periods"];
        s.cpu_throttled_periods = kv["nr_throttled"];
        s.cpu_throttled_ns = kv["throttled_time"];
      }
    }
    if (const std::string* pids = dir_of("pids")) {
      std::string dir = join_cgroup_path(*pids, p);
      s.pids_current = read_cgroup_number(dir, "pids.current").value_or(0);
      s.pids_limit = read_cgroup_number(dir, "pids.max").value_or(0);
    }
    s.process_count = this->pids(p).size();
    return s;
  }

  uint64_t oom_kill_count(const std::string& path) const override {
    const std::string* memory = dir_of("memory");
    if (!memory) return 0;
    return oom_kills_in(join_cgroup_path(*memory, normalize_cgroup_path(path)));
  }

  std::vector<std::string> procs_files(const std::string& path) const override {
    std::string p = normalize_cgroup_path(path);
    std::vector<std::string> out;
    for (const auto& dir : unique_dirs_) out.push_back(join_cgroup_path(dir, p) + "/cgroup.procs");
    return out;
  }

  std::vector<pid_t> pids(const std::string& path) const override {
    std::vector<pid_t> out;
    if (unique_dirs_.empty()) return out;
    auto content = read_cgroup_file(join_cgroup_path(unique_dirs_.front(), normalize_cgroup_path(path)),
                                    "cgroup.procs");
    if (!content) return out;
    std::istringstream in(*content);
    long pid;
    while (in >> pid) out.push_back(static_cast<pid_t>(pid));
    return out;
  }

  void remove(const std::string& path, std::chrono::milliseconds timeout) override {
    std::string p = normalize_cgroup_path(path);
    if (p == "/") throw Error(ErrorKind::kInvalidArgument, "refusing to remove the root cgroup");
    std::string first_error;
    for (const auto& dir : unique_dirs_) {
      try {
        remove_cgroup_dir(join_cgroup_path(dir, p), timeout);
      } catch (const Error& e) {
        if (first_error.empty()) first_error = e.what();
      }
    }
    if (!first_error.empty()) throw Error(ErrorKind::kFailedPrecondition, first_error);
  }

 private:
  struct Hierarchy {
    std::string controller;
    std::string dir;
  };

  const std::string* dir_of(const std::string& controller) const {
    for (const auto& h : hierarchies_) {
      if (h.controller == controller) return &h.dir;
    }
    return nullptr;
  }

  static uint64_t oom_kills_in(const std::string& dir) {
    auto content = read_cgroup_file(dir, "memory.oom_control");
    if (!content) return 0;
    return parse_flat_keyed(*content)["oom_kill"];
  }

  // Copies cpuset.cpus/mems from the nearest ancestor into each empty level down to path.
  static void init_cpuset(const std::string& hierarchy, const std::string& path) {
    std::string parent_dir = hierarchy;
    std::string partial;
    std::istringstream in(path.substr(1));
    std::string part;
    while (std::getline(in, part, '/')) {
      partial += "/" + part;
      std::string dir = join_cgroup_path(hierarchy, partial);
      for (const char* file : {"cpuset.cpus", "cpuset.mems"}) {
        auto mine = read_cgroup_file(dir, file);
        if (mine && mine->find_first_not_of(" \n") != std::string::npos) continue;
        auto parents = read_cgroup_file(parent_dir, file);
        if (!parents) continue;
        std::string value = *parents;
        while (!value.empty() && value.back() == '\n') value.pop_back();
        if (!value.empty()) write_cgroup_file(dir, file, value);
      }
      parent_dir = dir;
    }
  }

  void apply(const std::string& path, const CgroupResources& r, bool creating) {
    if (const std::string* cpu = dir_of("cpu")) {
      std::string dir = join_cgroup_path(*cpu, path);
      if (r.cpu_shares) write_cgroup_file(dir, "cpu.shares", std::to_string(*r.cpu_shares));
      // Period before quota: a quota is checked against the current period.
      if (r.cpu_period) write_cgroup_file(dir, "cpu.cfs_period_us", std::to_string(*r.cpu_period));
      if (r.cpu_quota) write_cgroup_file(dir, "cpu.cfs_quota_us", std::to_string(*r.cpu_quota));
    }
    if (const std::string* cpuset = dir_of("cpuset")) {
      std::string dir = join_cgroup_path(*cpuset, path);
      if (!r.cpuset_cpus.empty()) write_cgroup_file(dir, "cpuset.cpus", r.cpuset_cpus);
      if (!r.cpuset_mems.empty()) write_cgroup_file(dir, "cpuset.mems", r.cpuset_mems);
    }
    if (const std::string* memory = dir_of("memory")) {
      apply_memory(join_cgroup_path(*memory, path), r);
    }
    if (const std::string* pids = dir_of("pids")) {
      if (r.pids_limit) write_cgroup_file(join_cgroup_path(*pids, path), "pids.max", limit_value(*r.pids_limit));
    }
    if (const std::string* hugetlb = dir_of("hugetlb")) {
      std::string dir = join_cgroup_path(*hugetlb, path);
      for (const auto& h : r.hugepage_limits) {
        std::string file = "hugetlb." + h.page_size + ".limit_in_bytes";
        // A size this kernel does not offer is skipped, as runc does for missing files.
        if (path_exists(dir + "/" + file)) write_cgroup_file(dir, file, std::to_string(h.limit_bytes));
      }
    }
    if (!r.devices.empty()) {
      const std::string* devices = dir_of("devices");
      if (devices) {
        std::string dir = join_cgroup_path(*devices, path);
        for (const auto& rule : r.devices) {
          write_cgroup_file(dir, rule.allow ? "devices.allow" : "devices.deny", device_rule_line(rule));
        }
      } else if (creating) {
        throw Error(ErrorKind::kUnimplemented, "device rules given but no devices cgroup hierarchy is mounted");
      }
    }
  }

  // runc's order: when raising the limit, memory+swap first (it must stay >= memory); when
  // lowering, memory first.
  static void apply_memory(const std::string& dir, const CgroupResources& r) {
    if (!r.memory_limit && !r.memory_swap) return;
    std::optional<int64_t> swap = r.memory_swap;
    if (r.memory_limit && *r.memory_limit == -1 && !swap) swap = -1;
    bool has_memsw = path_exists(dir + "/memory.memsw.limit_in_bytes");
    if (swap && !has_memsw) {
      // No swap accounting on this kernel: "no swap" (swap == memory) and "unlimited" are
      // harmless to skip, a real swap limit is not.
      if (*swap != -1 && (!r.memory_limit || *swap != *r.memory_limit)) {
        throw Error(ErrorKind::kUnimplemented, "a swap limit needs swap accounting (memory.memsw.*), "
                                               "which this kernel does not have");
      }
      swap.reset();
    }
    auto write_memory = [&] {
      if (r.memory_limit) write_cgroup_file(dir, "memory.limit_in_bytes", std::to_string(*r.memory_limit));
    };
    auto write_swap = [&] {
      if (swap) write_cgroup_file(dir, "memory.memsw.limit_in_bytes", std::to_string(*swap));
    };
    bool swap_first = false;
    if (swap) {
      uint64_t current = read_cgroup_number(dir, "memory.memsw.limit_in_bytes").value_or(0);
      swap_first = *swap == -1 || static_cast<uint64_t>(*swap) > current;
    }
    if (swap_first) {
      write_swap();
      write_memory();
    } else {
      write_memory();
      write_swap();
    }
  }

  std::string root_;
  std::vector<Hierarchy> hierarchies_;
  std::vector<std::string> unique_dirs_;
};

}  // namespace

std::unique_ptr<CgroupDriver> make_cgroupfs_v1_driver(const std::string& root) {
  return std::make_unique<CgroupfsV1Driver>(root);
}

CgroupVersion detect_cgroup_version(const std::string& root) {
  return path_exists(root + "/cgroup.controllers") ? CgroupVersion::kV2 : CgroupVersion::kV1;
}

}  // namespace crisp::cgroups
