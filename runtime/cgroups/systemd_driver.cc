#include "runtime/cgroups/systemd_driver.h"

#include <limits>
#include <sstream>

#include "runtime/base/cleanup.h"
#include "runtime/base/error.h"
#include "runtime/cgroups/cgroup_files.h"

namespace crisp::cgroups {

namespace {

constexpr const char* kSliceSuffix = ".slice";
constexpr const char* kScopeSuffix = ".scope";
constexpr uint64_t kUnlimited = std::numeric_limits<uint64_t>::max();

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

std::string last_component(const std::string& path) { return path.substr(path.rfind('/') + 1); }

std::string parent_slice_of(const std::string& path) {
  auto slash = path.rfind('/');
  if (slash == 0 || slash == std::string::npos) return "-.slice";
  std::string parent = path.substr(0, slash);
  return last_component(parent);
}

class SystemdDriver : public CgroupDriver {
 public:
  SystemdDriver(std::unique_ptr<SystemdManager> manager, std::unique_ptr<CgroupDriver> fs)
      : manager_(std::move(manager)), fs_(std::move(fs)) {}

  CgroupVersion version() const override { return fs_->version(); }
  const char* name() const override { return "systemd"; }

  std::string pod_cgroup_path(const std::string& cgroup_parent, const std::string& sandbox_id) const override {
    if (cgroup_parent.empty()) {
      if (sandbox_id.empty() || sandbox_id.find_first_of("/-") != std::string::npos) {
        throw Error(ErrorKind::kInvalidArgument, "invalid sandbox id \"" + sandbox_id + "\" for a slice name");
      }
      return expand_slice("crisp-" + sandbox_id + kSliceSuffix);
    }
    if (!ends_with(cgroup_parent, kSliceSuffix) || cgroup_parent.find('/') != std::string::npos) {
      throw Error(ErrorKind::kInvalidArgument, "cgroup_parent \"" + cgroup_parent +
                                                   "\" is not a systemd slice name but crisp uses the systemd driver");
    }
    return expand_slice(cgroup_parent);
  }

  std::string container_cgroup_path(const std::string& pod_path, const std::string& container_id) const override {
    if (container_id.empty() || container_id.find('/') != std::string::npos) {
      throw Error(ErrorKind::kInvalidArgument, "invalid container id \"" + container_id + "\"");
    }
    std::string base = normalize_cgroup_path(pod_path);
    return (base == "/" ? std::string() : base) + "/crisp-" + container_id + kScopeSuffix;
  }

  void create(const CgroupRequest& request) override {
    validate_resources(request.resources);
    std::string path = normalize_cgroup_path(request.path);
    std::string unit = last_component(path);
    bool scope = ends_with(unit, kScopeSuffix);
    if (!scope && !ends_with(unit, kSliceSuffix)) {
      throw Error(ErrorKind::kInvalidArgument, "systemd cgroup path " + path + " does not end in a .slice or .scope");
    }
    if (scope && request.pids.empty()) {
      // systemd refuses a scope without processes: make the cgroup (with its limits) now, so the
      // container's init joins it before exec, and start the unit in register_processes().
      fs_->create(CgroupRequest{path, request.resources, {}});
      return;
    }
    start_unit(path, unit, scope, request);
  }

  void register_processes(const CgroupRequest& request) override {
    std::string path = normalize_cgroup_path(request.path);
    std::string unit = last_component(path);
    if (!ends_with(unit, kScopeSuffix) || request.pids.empty()) return;
    start_unit(path, unit, true, request);
  }

  void update(const std::string& path, const CgroupResources& resources) override {
    validate_resources(resources);
    std::string p = normalize_cgroup_path(path);
    auto props = resource_properties(resources, version());
    if (!props.empty()) manager_->set_unit_properties(last_component(p), props);
    fs_->update(p, resources);
  }

  bool exists(const std::string& path) const override { return fs_->exists(path); }
  CgroupStats stats(const std::string& path) const override { return fs_->stats(path); }
  uint64_t oom_kill_count(const std::string& path) const override { return fs_->oom_kill_count(path); }
  std::vector<std::string> procs_files(const std::string& path) const override { return fs_->procs_files(path); }
  std::vector<pid_t> pids(const std::string& path) const override { return fs_->pids(path); }

  void remove(const std::string& path, std::chrono::milliseconds timeout) override {
    std::string p = normalize_cgroup_path(path);
    manager_->stop_unit(last_component(p));
    // systemd removes the unit's cgroup; leftovers (v1 hierarchies it did not manage) go here.
    fs_->remove(p, timeout);
  }

 private:
  // StartTransientUnit for a slice or a scope (with request.pids), then the exact values in the
  // cgroup files (systemd rewrote the ones it manages when it realized the unit).
  void start_unit(const std::string& path, const std::string& unit, bool scope, const CgroupRequest& request) {
    std::vector<UnitProperty> props;
    props.push_back({"Description", std::string(scope ? "crisp container " : "crisp pod ") + unit});
    if (scope) {
      props.push_back({"Slice", parent_slice_of(path)});
      props.push_back({"Delegate", true});
      if (!request.pids.empty()) {
        PidList pids(request.pids.begin(), request.pids.end());
        props.push_back({"PIDs", pids});
      }
    } else {
      props.push_back({"Wants", parent_slice_of(path)});
    }
    props.push_back({"DefaultDependencies", false});
    props.push_back({"MemoryAccounting", true});
    props.push_back({"CPUAccounting", true});
    props.push_back({"TasksAccounting", true});
    for (auto& p : resource_properties(request.resources, version())) props.push_back(std::move(p));

    bool started = false;
    try {
      manager_->start_transient_unit(unit, props);
      started = true;
    } catch (const Error& e) {
      if (e.kind() != ErrorKind::kAlreadyExists) throw;
    }
    Cleanup undo([&] {
      if (started) manager_->stop_unit(unit);
    });
    // systemd made the cgroup; write the exact values (and anything it has no property for).
    fs_->create(CgroupRequest{path, request.resources, {}});
    undo.dismiss();
  }

  std::unique_ptr<SystemdManager> manager_;
  std::unique_ptr<CgroupDriver> fs_;
};

}  // namespace

std::string expand_slice(const std::string& slice) {
  auto bad = [&]() { return Error(ErrorKind::kInvalidArgument, "invalid systemd slice name \"" + slice + "\""); };
  if (!ends_with(slice, kSliceSuffix) || slice.find('/') != std::string::npos) throw bad();
  if (slice == "-.slice") return "/";
  std::string name = slice.substr(0, slice.size() - 6);
  if (name.empty() || name.front() == '-' || name.back() == '-' || name.find("--") != std::string::npos) throw bad();
  std::string path;
  std::string prefix;
  std::istringstream in(name);
  std::string component;
  while (std::getline(in, component, '-')) {
    prefix += (prefix.empty() ? "" : "-") + component;
    path += "/" + prefix + kSliceSuffix;
  }
  return path;
}

ByteArray cpu_list_to_mask(const std::string& list) {
  ByteArray mask;
  std::istringstream in(list);
  std::string range;
  while (std::getline(in, range, ',')) {
    if (range.empty()) continue;
    auto dash = range.find('-');
    unsigned long first = std::stoul(range.substr(0, dash));
    unsigned long last = dash == std::string::npos ? first : std::stoul(range.substr(dash + 1));
    if (last < first || last > 65535) throw Error(ErrorKind::kInvalidArgument, "cpu list range \"" + range + "\"");
    for (unsigned long cpu = first; cpu <= last; ++cpu) {
      if (mask.size() <= cpu / 8) mask.resize(cpu / 8 + 1, 0);
      mask[cpu / 8] |= static_cast<uint8_t>(1u << (cpu % 8));
    }
  }
  return mask;
}

std::vector<UnitProperty> resource_properties(const CgroupResources& r, CgroupVersion version) {
  std::vector<UnitProperty> props;
  if (r.cpu_shares) {
    if (version == CgroupVersion::kV1) {
      props.push_back({"CPUShares", uint64_t{*r.cpu_shares}});
    } else {
      props.push_back({"CPUWeight", cpu_shares_to_weight(*r.cpu_shares)});
    }
  }
  if (r.cpu_period) props.push_back({"CPUQuotaPeriodUSec", uint64_t{*r.cpu_period}});
  if (r.cpu_quota) {
    // systemd takes quota per second; runc rounds up to whole 10ms (systemd's granularity).
    uint64_t per_sec = kUnlimited;
    if (*r.cpu_quota > 0) {
      uint64_t period = r.cpu_period.value_or(100000);
      per_sec = static_cast<uint64_t>(*r.cpu_quota) * 1000000 / period;
      if (per_sec % 10000 != 0) per_sec = (per_sec / 10000 + 1) * 10000;
    }
    props.push_back({"CPUQuotaPerSecUSec", per_sec});
  }
  if (r.memory_limit) {
    uint64_t limit = *r.memory_limit < 0 ? kUnlimited : static_cast<uint64_t>(*r.memory_limit);
    props.push_back({version == CgroupVersion::kV1 ? "MemoryLimit" : "MemoryMax", limit});
  }
  if (r.pids_limit) {
    uint64_t limit = *r.pids_limit < 0 ? kUnlimited : static_cast<uint64_t>(*r.pids_limit);
    props.push_back({"TasksMax", limit});
  }
  if (!r.cpuset_cpus.empty()) props.push_back({"AllowedCPUs", cpu_list_to_mask(r.cpuset_cpus)});
  if (!r.cpuset_mems.empty()) props.push_back({"AllowedMemoryNodes", cpu_list_to_mask(r.cpuset_mems)});
  return props;
}

std::unique_ptr<CgroupDriver> make_systemd_driver(std::unique_ptr<SystemdManager> manager,
                                                  std::unique_ptr<CgroupDriver> fs) {
  return std::make_unique<SystemdDriver>(std::move(manager), std::move(fs));
}

}  // namespace crisp::cgroups
